// What every MinIO dynamic provider shares: the connection input, its validation, and the diff rule.
//
// Drift model (docs/storage.md): `read` reports what MinIO really has, as outputs AND as inputs, so after a
// refresh (`pulumi refresh`, `preview --refresh`, `up --refresh`) the engine compares the live values with
// the program's. `diff` is pure and offline; when something differs it leaves `changes` unset, so the
// engine diffs the (refreshed) inputs itself and names the changed properties (e.g. `lifecycleRules`),
// which a bare `changes: true` from a dynamic provider cannot do: the Node.js dynamic provider host
// forwards `changes`, `replaces` and `deleteBeforeReplace` only, and maps an unset `changes` to DIFF_UNKNOWN
// (@pulumi/pulumi cmd/dynamic-provider/index.ts), which makes the engine diff the inputs.
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { changedKeys } from "../quay/common";

/** How a resource reaches MinIO. Pass `secretKey` as a secret; it is stored encrypted with the resource. */
export interface MinioConnectionArgs {
  /** `http://host:port` of MinIO's S3 API. */
  endpoint: pulumi.Input<string>;
  /** An admin user's access key (the root user, or a user with MinIO's admin policies). */
  accessKey: pulumi.Input<string>;
  /** Its secret key (a secret). */
  secretKey: pulumi.Input<string>;
  /** Path of MinIO's `mc` on the machine that runs Pulumi. Default "mc" on PATH. */
  mcPath?: pulumi.Input<string>;
}

/** Bucket names MinIO accepts (S3 rules, no dots-as-IP games): 3–63 of a-z 0-9 . - */
export const BUCKET_NAME_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** MinIO user / policy names we allow: no spaces, quotes, commas (mc joins policy names with commas). */
export const IAM_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._@=+-]{1,127}$/;

export function connectionSchema() {
  return z.object({
    endpoint: z
      .string()
      .regex(/^https?:\/\/[^\s/@]+$/, "must be http(s)://host:port with no path or credentials, e.g. http://10.0.0.5:9000"),
    accessKey: z.string().min(3, "must be at least 3 characters"),
    secretKey: z.string().min(8, "must be at least 8 characters"),
    mcPath: z.string().min(1).optional(),
  });
}

/**
 * A pure diff: `{ changes: false }` when the listed keys (and the connection) are equal; otherwise no
 * `changes`, so the engine names the changed inputs, plus `replaces` for identity keys.
 */
export function minioDiff(olds: object, news: object, updateOn: string[], replaceOn: string[], defaults: Record<string, unknown> = {}): pulumi.dynamic.DiffResult {
  const changed = changedKeys(olds, news, [...replaceOn, ...updateOn, "connection"], defaults);
  if (changed.length === 0) return { changes: false };
  const replaces = replaceOn.filter((k) => changed.includes(k));
  return replaces.length ? { replaces } : {};
}
