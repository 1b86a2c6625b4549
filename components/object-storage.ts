// ObjectStorage: the MinIO side of the Quay mirror (docs/storage.md), as resources the engine owns:
//
//   bucket quay-storage   Quay's blobs (RadosGWStorage). Versioning on, NO lifecycle configuration at all:
//                         a rule there can expire blobs a manifest still references ("unknown blob").
//   bucket quay-backups   encrypted database backups. Versioning on; current and noncurrent versions
//                         expire after backupRetentionDays (90).
//   user quay-storage     read/write on quay-storage only (plus the bucket reads Quay and the preflight need).
//   user quay-backup      s3:PutObject on quay-backups only: it cannot list, read, overwrite-check or delete.
//   user quay-restore     s3:GetObject + s3:ListBucket on quay-backups only, for the restore proof.
//
// The users' secret keys are generated once (RandomSecret) and are secret outputs. Drift (a lifecycle rule
// added by hand, a widened policy, a policy attached by hand) shows after a refresh and `up` repairs it.
import * as pulumi from "@pulumi/pulumi";
import { ObjectStorageInput, StringInput, parseObjectStorageArgs } from "../config/object-storage";
import { ALPHANUMERIC, RandomSecret } from "../providers/local/random-secret";
import { Bucket, LifecycleRule } from "../providers/minio/bucket";
import { Policy, PolicyDocument } from "../providers/minio/policy";
import { User } from "../providers/minio/user";

export interface ObjectStorageConnectionArgs {
  /** `http://host:port` of MinIO's S3 API (the private service network address Quay uses). */
  endpoint: StringInput;
  /** An admin access key (MinIO's root user or an admin user). */
  accessKey: StringInput;
  /** Its secret key: pass it as a secret. */
  secretKey: StringInput;
  /** Path of MinIO's `mc` where Pulumi runs. Default "mc" on PATH. */
  mcPath?: string;
}

export interface ObjectStorageArgs {
  connection: ObjectStorageConnectionArgs;
  /** Quay's blob bucket. Default "quay-storage". */
  storageBucket?: string;
  /** The backup bucket. Default "quay-backups". */
  backupBucket?: string;
  /** Days backups (current and noncurrent versions) are kept. Default 90. */
  backupRetentionDays?: number;
  /** Quay's storage user. Default "quay-storage". */
  storageUser?: string;
  /** The backup uploader. Default "quay-backup". */
  backupUser?: string;
  /** The restore-proof reader. Default "quay-restore". */
  restoreUser?: string;
  /** Take over buckets and users that already exist (their settings are converged) instead of failing. Default false. */
  adopt?: boolean;
}

/** An access key pair; `secretKey` is a secret. */
export interface StorageCredentials {
  accessKey: pulumi.Output<string>;
  secretKey: pulumi.Output<string>;
}

const arn = (resource: string) => `arn:aws:s3:::${resource}`;

/**
 * Quay's RadosGW driver: objects read/write/delete and multipart uploads in the blob bucket; listing and
 * the bucket's location; and READ of versioning and lifecycle so the host's preflight can prove "versioning
 * on, no lifecycle rule" with Quay's own credentials. It can never change the lifecycle.
 */
export function storagePolicyDocument(bucket: string): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Action: ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads", "s3:GetBucketVersioning", "s3:GetLifecycleConfiguration"],
        Resource: [arn(bucket)],
      },
      {
        Effect: "Allow",
        Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
        Resource: [arn(`${bucket}/*`)],
      },
    ],
  };
}

/** The backup uploader: put objects into the backup bucket, nothing else (a stolen key cannot read or erase backups). */
export function backupPolicyDocument(bucket: string): PolicyDocument {
  return { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: ["s3:PutObject"], Resource: [arn(`${bucket}/*`)] }] };
}

/** The restore proof: list and read the backup bucket, nothing else. */
export function restorePolicyDocument(bucket: string): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      { Effect: "Allow", Action: ["s3:ListBucket"], Resource: [arn(bucket)] },
      { Effect: "Allow", Action: ["s3:GetObject"], Resource: [arn(`${bucket}/*`)] },
    ],
  };
}

/** quay-backups' lifecycle: current and noncurrent versions expire after the retention. */
export function backupLifecycleRules(retentionDays: number): LifecycleRule[] {
  return [{ id: `expire-after-${retentionDays}-days`, expireDays: retentionDays, noncurrentExpireDays: retentionDays }];
}

export class ObjectStorage extends pulumi.ComponentResource {
  readonly endpoint: pulumi.Output<string>;
  readonly storageBucketName: pulumi.Output<string>;
  readonly backupBucketName: pulumi.Output<string>;
  readonly storageCredentials: StorageCredentials;
  readonly backupCredentials: StorageCredentials;
  readonly restoreCredentials: StorageCredentials;
  readonly storageBucket: Bucket;
  readonly backupBucket: Bucket;
  readonly users: { storage: User; backup: User; restore: User };
  readonly policies: { storage: Policy; backup: Policy; restore: Policy };

  constructor(name: string, args: ObjectStorageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("quay-mirror:storage:ObjectStorage", name, {}, opts);
    const s = parseObjectStorageArgs(args as ObjectStorageInput, `ObjectStorage "${name}" arguments`);
    const parent = { parent: this };
    const connection = {
      endpoint: s.connection.endpoint,
      accessKey: s.connection.accessKey,
      secretKey: pulumi.secret(s.connection.secretKey),
      mcPath: s.connection.mcPath,
    };

    this.storageBucket = new Bucket(`${name}-storage`, { connection, name: s.storageBucket, versioning: true, lifecycleRules: [], adopt: s.adopt }, parent);
    this.backupBucket = new Bucket(
      `${name}-backups`,
      { connection, name: s.backupBucket, versioning: true, lifecycleRules: backupLifecycleRules(s.backupRetentionDays), adopt: s.adopt },
      parent,
    );

    // Policies name the buckets through the bucket resources, so they follow them (and wait for them).
    // Each policy is named after its user: quay-storage-readwrite, quay-backup-putonly, quay-restore-readonly.
    const policy = (role: string, policyName: string, document: pulumi.Input<PolicyDocument>) =>
      new Policy(`${name}-${role}-policy`, { connection, name: policyName, document }, parent);
    this.policies = {
      storage: policy("storage", `${s.storageUser}-readwrite`, this.storageBucket.name.apply(storagePolicyDocument)),
      backup: policy("backup", `${s.backupUser}-putonly`, this.backupBucket.name.apply(backupPolicyDocument)),
      restore: policy("restore", `${s.restoreUser}-readonly`, this.backupBucket.name.apply(restorePolicyDocument)),
    };

    // MinIO's secret keys: 8–40 characters; 40 letters and digits (~238 bits).
    const secret = (role: string) => new RandomSecret(`${name}-${role}-secret-key`, { length: 40, alphabet: ALPHANUMERIC }, parent).result;
    const user = (role: "storage" | "backup" | "restore", accessKey: string) =>
      new User(`${name}-${role}-user`, { connection, accessKey, secretKey: secret(role), policies: [this.policies[role].name], adopt: s.adopt }, parent);
    this.users = { storage: user("storage", s.storageUser), backup: user("backup", s.backupUser), restore: user("restore", s.restoreUser) };

    const credentials = (u: User): StorageCredentials => ({ accessKey: u.accessKey, secretKey: pulumi.secret(u.secretKey) });
    this.storageCredentials = credentials(this.users.storage);
    this.backupCredentials = credentials(this.users.backup);
    this.restoreCredentials = credentials(this.users.restore);
    this.endpoint = pulumi.output(s.connection.endpoint);
    this.storageBucketName = this.storageBucket.name;
    this.backupBucketName = this.backupBucket.name;

    this.registerOutputs({
      endpoint: this.endpoint,
      storageBucketName: this.storageBucketName,
      backupBucketName: this.backupBucketName,
      storageCredentials: this.storageCredentials,
      backupCredentials: this.backupCredentials,
      restoreCredentials: this.restoreCredentials,
    });
  }
}
