// The ObjectStorage component's arguments: one zod schema that parses, cross-checks and defaults them.
// Errors name the argument's JSON path and the fix, and never echo a value (it may be a secret).
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { ConfigError, ConfigIssue, issuesFromZod } from "./errors";

/** A string that may also be a Pulumi Output (secrets, or values produced by other resources). */
export type StringInput = string | pulumi.Output<string>;

export const DEFAULT_STORAGE_BUCKET = "quay-storage";
export const DEFAULT_BACKUP_BUCKET = "quay-backups";
export const DEFAULT_BACKUP_RETENTION_DAYS = 90;
export const DEFAULT_STORAGE_USER = "quay-storage";
export const DEFAULT_BACKUP_USER = "quay-backup";
export const DEFAULT_RESTORE_USER = "quay-restore";

const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const USER_RE = /^[A-Za-z0-9][A-Za-z0-9._@=+-]{2,63}$/;
const ENDPOINT_RE = /^https?:\/\/[^\s/@]+$/;

const isOutput = (v: unknown): v is pulumi.Output<string> => pulumi.Output.isInstance(v);

function stringOrOutput(plain: z.ZodType<string>) {
  return z.union([plain, z.custom<pulumi.Output<string>>(isOutput, { message: "must be a string or a pulumi Output<string>" })]);
}

const endpoint = () => z.string().regex(ENDPOINT_RE, "must be http(s)://host:port of MinIO's S3 API — fix: e.g. http://10.0.0.5:9000, with no path and no credentials in it");
const bucket = (what: string) =>
  z.string().regex(BUCKET_RE, `${what} must be a bucket name — fix: 3–63 characters of a-z, 0-9, '.', '-', starting and ending with a letter or digit`);
const user = (what: string) =>
  z.string().regex(USER_RE, `${what} must be a MinIO user name — fix: 3–64 of letters, digits and . _ @ = + - (no spaces or commas)`);

export const objectStorageArgsSchema = z
  .object({
    connection: z
      .object({
        endpoint: stringOrOutput(endpoint()),
        accessKey: stringOrOutput(z.string().min(3, "the admin access key must have at least 3 characters — fix: use MinIO's root user or an admin user")),
        secretKey: stringOrOutput(z.string().min(8, "the admin secret key must have at least 8 characters — fix: pass the admin user's secret key (as a secret)")),
        mcPath: z.string().min(1, "must not be empty — fix: leave it out to use `mc` from PATH").optional(),
      })
      .strict(),
    storageBucket: bucket("storageBucket").default(DEFAULT_STORAGE_BUCKET),
    backupBucket: bucket("backupBucket").default(DEFAULT_BACKUP_BUCKET),
    backupRetentionDays: z
      .number()
      .int("backupRetentionDays must be a whole number of days — fix: e.g. 90")
      .min(1, "backupRetentionDays must be at least 1 — fix: e.g. 90")
      .max(36500, "backupRetentionDays must be at most 36500 — fix: e.g. 90")
      .default(DEFAULT_BACKUP_RETENTION_DAYS),
    storageUser: user("storageUser").default(DEFAULT_STORAGE_USER),
    backupUser: user("backupUser").default(DEFAULT_BACKUP_USER),
    restoreUser: user("restoreUser").default(DEFAULT_RESTORE_USER),
    adopt: z.boolean().default(false),
  })
  .strict()
  .superRefine((a, ctx) => {
    if (a.storageBucket === a.backupBucket) {
      ctx.addIssue({ code: "custom", path: ["backupBucket"], message: `backupBucket must differ from storageBucket (both "${a.storageBucket}") — fix: keep backups in their own bucket, e.g. "${DEFAULT_BACKUP_BUCKET}"` });
    }
    const users: [string, string][] = [
      ["storageUser", a.storageUser],
      ["backupUser", a.backupUser],
      ["restoreUser", a.restoreUser],
    ];
    for (let i = 0; i < users.length; i++) {
      for (let j = 0; j < i; j++) {
        if (users[i][1] === users[j][1]) {
          ctx.addIssue({ code: "custom", path: [users[i][0]], message: `${users[i][0]} must differ from ${users[j][0]} (both "${users[i][1]}") — fix: one user per role, so each has only its own rights` });
        }
      }
    }
    if (typeof a.connection.accessKey === "string" && users.some(([, u]) => u === a.connection.accessKey)) {
      ctx.addIssue({ code: "custom", path: ["connection", "accessKey"], message: "the admin access key must not be one of the users the component creates — fix: use MinIO's root user or a separate admin user" });
    }
  });

/** What callers pass (defaults optional). */
export type ObjectStorageInput = z.input<typeof objectStorageArgsSchema>;
/** What the component works with: validated, defaults applied. */
export type ObjectStorageSettings = z.output<typeof objectStorageArgsSchema>;

function issues(error: z.ZodError): ConfigIssue[] {
  return issuesFromZod(error).map((i) => (i.message.includes("— fix:") ? { path: i.path, message: i.message } : i));
}

/** Parses, cross-checks and defaults ObjectStorage's arguments; throws ConfigError naming every problem. */
export function parseObjectStorageArgs(args: unknown, where = "ObjectStorage arguments"): ObjectStorageSettings {
  const r = objectStorageArgsSchema.safeParse(args);
  if (r.success) return r.data;
  throw new ConfigError(where, issues(r.error));
}
