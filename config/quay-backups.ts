// QuayBackups' arguments: one zod schema that parses, cross-checks and defaults them. Values that reach a
// script (bucket, prefix, database, paths, schedules) are held to narrow alphabets; keys and the passphrase
// may hold anything except what their files cannot (a newline in the passphrase: openssl reads one line)
// and travel only on stdin.
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { jsonPath } from "./errors";
import { checkLater, QuayHostConfigError, StringInput } from "./quay-host";
import { CALENDAR_RE, RESTORE_FROM_RE } from "../components/quay-backups/render";
import { MC_REMOTE_PATH } from "../components/quay-host/render";

const isOutput = (v: unknown): v is pulumi.Output<string> => pulumi.Output.isInstance(v);
const stringOrOutput = (plain: z.ZodType<string>) => z.union([plain, z.custom<pulumi.Output<string>>(isOutput, { message: "must be a string or a pulumi Output<string>" })]);

const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const PREFIX_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const DATABASE_RE = /^[a-z_][a-z0-9_]{0,62}$/;
const ABS_PATH_RE = /^\/[A-Za-z0-9._/-]+$/;
const ENDPOINT_RE = /^https?:\/\/(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}$/;

export const passphraseRule = z
  .string()
  .min(20, "passphrase must be at least 20 characters — fix: omit it to have one generated (48 letters and digits)")
  .refine((v) => !/[\r\n\0]/.test(v), { message: "passphrase must be one line without NUL (openssl -pass file: reads the first line) — fix: remove the line breaks" });

export const endpointRule = z
  .string()
  .regex(ENDPOINT_RE, "endpoint must be http(s)://host:port of MinIO's S3 API, without path or credentials — fix: e.g. http://minio.lab:9000");

/** A backup to restore: "latest" or the UTC timestamp of one (the folder under <bucket>/<prefix>/). */
export const restoreFromRule = z
  .string({ error: "restoreFrom must be a string" })
  .regex(RESTORE_FROM_RE, 'restoreFrom must be "latest" or a backup\'s UTC timestamp such as 20261207T031500Z — fix: use latest, or the folder name of a backup under <backup bucket>/<prefix>/ (mc ls)');

const credentials = (what: string) =>
  z
    .object({
      accessKey: stringOrOutput(z.string().min(1, `${what}.accessKey must not be empty`)),
      secretKey: stringOrOutput(z.string().min(1, `${what}.secretKey must not be empty — fix: pass it as a secret`)),
    })
    .strict();

const calendar = (what: string, dflt: string) =>
  z
    .string()
    .regex(CALENDAR_RE, `${what} must be a systemd calendar expression (letters, digits, space and * : , . / ~ -) — fix: e.g. daily, weekly or 'Sun *-*-* 03:00:00'`)
    .default(dflt);

export const quayBackupsArgsSchema = z
  .object({
    /** QuayHost's `connection`. */
    connection: z.custom<Record<string, unknown>>(
      (v) => typeof v === "object" && v !== null && "host" in (v as object) && (v as { hostKey?: unknown }).hostKey !== undefined && (v as { hostKey?: unknown }).hostKey !== "",
      { message: "connection must be an SSH connection with the host's key pinned (QuayHost's `connection`, whose hostKey its settings pin) — fix: pass host.connection" },
    ),
    /** Resources the steps wait for (QuayHost's steps: postgres, config, tools). */
    after: z.array(z.custom<pulumi.Resource>((v) => pulumi.Resource.isInstance(v), { message: "after must list Pulumi resources" })).default([]),
    mcPath: z.string().regex(ABS_PATH_RE, "mcPath must be an absolute path — fix: use QuayHost's mcPath").default(MC_REMOTE_PATH),
    endpoint: stringOrOutput(endpointRule),
    bucket: z.string().regex(BUCKET_RE, "bucket must be an S3 bucket name — fix: 3 to 63 lowercase letters, digits, '.' and '-'").default("quay-backups"),
    prefix: z.string().regex(PREFIX_RE, "prefix must be one path segment of lowercase letters, digits, '.', '_' and '-' — fix: e.g. quay").default("quay"),
    database: z.string().regex(DATABASE_RE, "database must be a lowercase PostgreSQL identifier — fix: e.g. quay").default("quay"),
    backupCredentials: credentials("backupCredentials"),
    restoreCredentials: credentials("restoreCredentials"),
    passphrase: stringOrOutput(passphraseRule).optional(),
    schedules: z
      .object({
        backup: calendar("schedules.backup", "daily"),
        restoreValidate: calendar("schedules.restoreValidate", "weekly"),
        randomizedDelaySeconds: z.number().int().min(0, "schedules.randomizedDelaySeconds must be ≥ 0").max(86400, "schedules.randomizedDelaySeconds must be ≤ 86400").default(3600),
      })
      .strict()
      .default({ backup: "daily", restoreValidate: "weekly", randomizedDelaySeconds: 3600 }),
    /** Rebuild from backup: restore this backup ("latest" or its UTC timestamp) before Quay first starts. */
    restoreFrom: restoreFromRule.optional(),
    /** Let the restore replace a database that already holds tables (kept, renamed). Default false. */
    restoreOverwrite: z.boolean({ error: "restoreOverwrite must be true or false" }).default(false),
  })
  .strict()
  .superRefine((a, ctx) => {
    if (a.restoreOverwrite && a.restoreFrom === undefined) {
      ctx.addIssue({ code: "custom", path: ["restoreOverwrite"], message: "restoreOverwrite is set without restoreFrom — fix: name the backup to restore (restoreFrom), or remove restoreOverwrite" });
    }
  });

export type QuayBackupsInput = z.input<typeof quayBackupsArgsSchema>;
export type QuayBackupsSettings = z.output<typeof quayBackupsArgsSchema>;

/** Parses and defaults QuayBackups' arguments; throws naming every problem's JSON path and fix (never a value). */
export function parseQuayBackupsArgs(args: unknown, where = "QuayBackups arguments"): QuayBackupsSettings {
  const r = quayBackupsArgsSchema.safeParse(args);
  if (r.success) return r.data;
  throw new QuayHostConfigError(
    r.error.issues.map((issue) => {
      const inner = issue.code === "invalid_union" ? issue.errors.flat()[0] : undefined;
      const message = inner?.message ?? issue.message;
      return { path: jsonPath(issue.path), message: message.includes("— fix:") ? message : `${message} — fix: correct this value` };
    }),
    where,
  );
}

/** Late checks for values that were Outputs at parse time. */
export const lateBackupRules = { passphrase: passphraseRule, endpoint: endpointRule };
export { checkLater };
export type { StringInput };
