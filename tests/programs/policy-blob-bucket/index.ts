// Policy test program for blob-bucket-no-lifecycle (tests/policy/policy.test.ts): an expiry rule on the
// blob bucket when "violating"; none when "passing". The backup bucket keeps its lifecycle in both.
// A preview runs only the Bucket provider's check (validation, no mc call): MinIO is not needed.
import * as pulumi from "@pulumi/pulumi";
import { Bucket } from "../../../providers/minio/bucket";
import { policyTestConfig } from "../policy-support/standins";

export default function program() {
  const { violating } = policyTestConfig();
  const config = new pulumi.Config("test");
  const blobBucket = config.get("blobBucket") ?? "quay-storage";
  const connection = { endpoint: "http://127.0.0.1:9000", accessKey: "policy-test", secretKey: config.requireSecret("token") };
  const expire = { id: "expire-uploads", prefix: "uploads/", expireDays: 7 };
  new Bucket("blobs", { connection, name: blobBucket, versioning: true, lifecycleRules: violating ? [expire] : [] });
  new Bucket("backups", { connection, name: "quay-backups", lifecycleRules: [{ id: "expire-old", expireDays: 90, noncurrentExpireDays: 90 }] });
  return {};
}
