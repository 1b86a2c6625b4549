// QuayBackups: the lab's backup design on the Quay host (docs/backups.md), over the same SSH
// connection as QuayHost:
//   quay-backup-to-minio      daily timer: pg_dump (+ exact row counts from the same snapshot), config.yaml,
//                             quay.service, manifest.json → tar.gz → openssl aes-256-cbc/pbkdf2 → HMAC-SHA256
//                             tag (encrypt-then-MAC, format quay-mirror-backup/2) → sha256 → mc cp to
//                             <bucket>/<prefix>/<UTC timestamp>/ with the put-only uploader's keys.
//   quay-restore-validate     weekly timer and on demand: the latest backup, fetched with the restore reader's
//                             keys, checksum, MAC (refused before decrypting if it does not match), decrypt,
//                             restore as the unprivileged role quay_restore_proof into a temporary database,
//                             every table's row count against the manifest, drop; never the production database.
//   quay-restore-database     the rebuild from backup (restoreFrom, or by hand): the latest or a named backup,
//                             the same checks (lib/backup-fetch.sh), the same stack's secrets (by hash),
//                             restored as the database's owner, counts checked, swapped in; recorded in a marker.
// Secrets (passphrase, both users' keys) travel on stdin to root-only files; the passphrase is generated once
// (RandomSecret) unless given, and is a secret output so it can be kept in custody beside the host's secrets.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { checkLater, lateBackupRules, parseQuayBackupsArgs, QuayBackupsInput, StringInput } from "../../config/quay-backups";
import { ALPHANUMERIC, RandomSecret } from "../../providers/local/random-secret";
import { sshCommand } from "../quay-host/render";
import { BACKUP_CONFIG_DIR, destroyValues, installValues, renderBackupTemplate, restoreValues } from "./render";

export * from "./render";

/** An access key pair (the secret key a secret). */
export interface BackupCredentialsArgs {
  accessKey: StringInput;
  secretKey: StringInput;
}

export interface QuayBackupsArgs {
  /** The SSH connection to the Quay host: QuayHost's `connection`. */
  connection: command.types.input.remote.ConnectionArgs;
  /** Resources the steps wait for: QuayHost's postgres, config and tools steps (`Object.values(host.steps)` works). */
  after?: pulumi.Resource[];
  /** The MinIO client on the host (QuayHost's `mcPath`). Default /usr/local/lib/quay-mirror/bin/mc. */
  mcPath?: string;
  /** MinIO's S3 endpoint as the host reaches it: http(s)://host:port. */
  endpoint: StringInput;
  /** The backup bucket. Default quay-backups. */
  bucket?: string;
  /** Key prefix: backups land in <bucket>/<prefix>/<UTC timestamp>/. Default quay. */
  prefix?: string;
  /** Quay's database. Default quay. */
  database?: string;
  /** The uploader (s3:PutObject on the bucket only): ObjectStorage's backupCredentials. */
  backupCredentials: BackupCredentialsArgs;
  /** The restore reader (list + read of the bucket): ObjectStorage's restoreCredentials. */
  restoreCredentials: BackupCredentialsArgs;
  /** The encryption passphrase (a secret, one line, ≥ 20 characters). Default: 48 letters and digits, generated once. */
  passphrase?: StringInput;
  /** systemd calendar expressions. Defaults: backup daily, restoreValidate weekly, randomizedDelaySeconds 3600. */
  schedules?: { backup?: string; restoreValidate?: string; randomizedDelaySeconds?: number };
  /**
   * Rebuild from backup: restore this backup — "latest" or its UTC timestamp (yyyymmddTHHMMSSZ) — into Quay's
   * database before Quay first starts (pass `restored` to QuayHost's startAfter). Its config.yaml must hold
   * this host's DATABASE_SECRET_KEY and SECRET_KEY. Recorded on the host: a rerun never restores again over
   * newer data. Default: no restore.
   */
  restoreFrom?: string;
  /** Let the restore replace a database that already holds tables (the replaced one is kept, renamed). Default false. */
  restoreOverwrite?: boolean;
}

// The interface above is the documented face of the schema in config/quay-backups.ts; keep them in step.
type Assignable<A, B> = [A] extends [B] ? true : false;
const argsMatchSchema: Assignable<Omit<QuayBackupsArgs, "connection">, Omit<QuayBackupsInput, "connection">> = true;
void argsMatchSchema;

export class QuayBackups extends pulumi.ComponentResource {
  /** The backup encryption passphrase (secret): keep a copy in custody (the seed: beside the host's secrets). */
  public readonly backupPassphrase: pulumi.Output<string>;
  /** Where backups land: <bucket>/<prefix>/. */
  public readonly location: pulumi.Output<string>;
  /** The units to start by hand: quay-backup.service, quay-restore-validate.service. */
  public readonly units: pulumi.Output<{ backup: string; restoreValidate: string }>;
  /** The steps (secrets, install, and restore with restoreFrom), for dependsOn and tests. */
  public readonly steps: Readonly<Record<string, pulumi.Resource>>;
  /** With restoreFrom: the restore step, which Quay's first start must wait for (QuayHost's startAfter). */
  public readonly restored?: pulumi.Resource;

  constructor(name: string, args: QuayBackupsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("quay-mirror:host:QuayBackups", name, {}, opts);
    const s = parseQuayBackupsArgs(args, `QuayBackups "${name}" arguments`);
    const child = { parent: this };
    const connection = args.connection;
    const sudo = pulumi.output(connection.user ?? "root").apply((u) => u !== "root");

    const passphrase = pulumi.secret(
      s.passphrase !== undefined
        ? pulumi.Output.isInstance(s.passphrase)
          ? checkLater(s.passphrase, lateBackupRules.passphrase, ["passphrase"])
          : pulumi.output(s.passphrase)
        : new RandomSecret(`${name}-passphrase`, { length: 48, alphabet: ALPHANUMERIC }, child).result,
    );
    const endpoint = pulumi.Output.isInstance(s.endpoint) ? checkLater(s.endpoint, lateBackupRules.endpoint, ["endpoint"]) : pulumi.output(s.endpoint);

    // 1. the secrets, on stdin, into root-only files.
    const secretsJson = pulumi.secret(
      pulumi
        .all([passphrase, s.backupCredentials.accessKey, s.backupCredentials.secretKey, s.restoreCredentials.accessKey, s.restoreCredentials.secretKey])
        .apply(([p, ba, bs, ra, rs]) => JSON.stringify({ passphrase: p, backup: { accessKey: ba, secretKey: bs }, restore: { accessKey: ra, secretKey: rs } })),
    );
    const secrets = new command.remote.Command(
      `${name}-secrets`,
      {
        connection,
        create: pulumi.all([endpoint, sudo]).apply(([e, su]) => sshCommand(renderBackupTemplate("secrets", { CONFIG_DIR: BACKUP_CONFIG_DIR, ENDPOINT: e }), { sudo: su, label: "backup-secrets" })),
        stdin: secretsJson,
        logging: "none",
        addPreviousOutputInEnv: false,
      },
      { ...child, dependsOn: s.after, additionalSecretOutputs: ["stdout", "stderr"] },
    );

    // 2. scripts, units, timers. Its delete removes them and the secrets.
    const settings = { database: s.database, mcPath: s.mcPath, bucket: s.bucket, prefix: s.prefix };
    const values = installValues(settings, s.schedules);
    const install = new command.remote.Command(
      `${name}-install`,
      {
        connection,
        create: sudo.apply((su) => sshCommand(renderBackupTemplate("install", values), { sudo: su, label: "backup-install" })),
        delete: sudo.apply((su) => sshCommand(renderBackupTemplate("destroy", destroyValues()), { sudo: su, label: "backup-destroy" })),
        logging: "stdoutAndStderr",
        addPreviousOutputInEnv: false,
      },
      { ...child, dependsOn: [...s.after, secrets] },
    );

    // 3. rebuild from backup: restore before Quay first starts (QuayHost waits for it through startAfter).
    let restore: command.remote.Command | undefined;
    if (s.restoreFrom !== undefined) {
      const rv = restoreValues(s.restoreFrom, s.restoreOverwrite);
      restore = new command.remote.Command(
        `${name}-restore`,
        {
          connection,
          create: sudo.apply((su) => sshCommand(renderBackupTemplate("restore", rv), { sudo: su, label: "backup-restore" })),
          logging: "stdoutAndStderr",
          addPreviousOutputInEnv: false,
        },
        { ...child, dependsOn: [...s.after, secrets, install] },
      );
    }

    this.backupPassphrase = passphrase;
    this.location = pulumi.output(`${s.bucket}/${s.prefix}/`);
    this.units = pulumi.output({ backup: "quay-backup.service", restoreValidate: "quay-restore-validate.service" });
    this.steps = restore ? { secrets, install, restore } : { secrets, install };
    this.restored = restore;
    this.registerOutputs({ backupPassphrase: this.backupPassphrase, location: this.location, units: this.units });
  }
}

/**
 * The rebuild from backup's ordering: QuayBackups works over QuayHost's connection, so it is declared after the
 * host, yet Quay's first start must wait for its restore step. Pass `startAfter` to QuayHost, then `open` with
 * the QuayBackups once declared (or `fail` when declaring it failed): a failed gate fails Quay's unit step, so
 * Quay never starts on the empty database of a host being rebuilt.
 */
export function restoreGate(): { startAfter: Promise<pulumi.Resource[]>; open(backups: QuayBackups): void; fail(reason: string): void } {
  let resolve: (r: pulumi.Resource[]) => void = () => undefined;
  let reject: (e: Error) => void = () => undefined;
  const startAfter = new Promise<pulumi.Resource[]>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return {
    startAfter,
    open: (backups) => (backups.restored ? resolve([backups.restored]) : reject(new Error("the rebuild was asked for, but QuayBackups declared no restore step (restoreFrom unset)"))),
    fail: (reason) => reject(new Error(reason)),
  };
}
