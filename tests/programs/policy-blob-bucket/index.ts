// Policy test program for blob-bucket-no-lifecycle (tests/policy/policy.test.ts): an expiry rule on the
// blob bucket when "violating"; none when "passing". The backup bucket keeps its lifecycle in both.
import { BucketStandIn, policyTestConfig } from "../policy-support/standins";
import * as pulumi from "@pulumi/pulumi";

export default function program() {
  const { violating } = policyTestConfig();
  const blobBucket = new pulumi.Config("test").get("blobBucket") ?? "quay-storage";
  const expire = { id: "expire-temp", prefix: "uploads/", expirationDays: 7 };
  new BucketStandIn("blobs", { name: blobBucket, lifecycleRules: violating ? [expire] : [] });
  new BucketStandIn("backups", { name: "quay-backups", lifecycleRules: [{ id: "expire-old", expirationDays: 90, noncurrentExpirationDays: 90 }] });
  return {};
}
