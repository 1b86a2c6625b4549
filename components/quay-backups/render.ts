// Pure functions that render what QuayBackups installs: the two host scripts (quay-backup-to-minio,
// quay-restore-validate), their systemd services and timers, and the shell steps, all filled from
// templates/*.sh by QuayHost's one quoting helper (renderTemplateText / shq). No Pulumi here.
import { QUAY_CONFIG_DIR, QUAY_UNIT_PATH, renderTemplateText, StepValue } from "../quay-host/render";
import { readComponentTemplate } from "../templates";

// ---- fixed facts of the host layout ----------------------------------------------------------------

/** Root-only (0700) directory of the backup secrets: passphrase, mc-backup/config.json, mc-restore/config.json. */
export const BACKUP_CONFIG_DIR = "/etc/quay-backup";
export const PASSPHRASE_FILE = `${BACKUP_CONFIG_DIR}/passphrase`;
export const BACKUP_MC_CONFIG = `${BACKUP_CONFIG_DIR}/mc-backup/config.json`;
export const RESTORE_MC_CONFIG = `${BACKUP_CONFIG_DIR}/mc-restore/config.json`;
/** Root-only (0700) scratch space of both scripts; each run works in its own subdirectory and removes it. */
export const BACKUP_WORK_ROOT = "/var/lib/quay-backup";
export const SBIN_DIR = "/usr/local/sbin";
export const UNIT_DIR = "/etc/systemd/system";
/** PBKDF2 iterations of `openssl enc` (the lab's backup design). */
export const PBKDF2_ITERATIONS = 200000;
/** Temporary databases of the restore proof are named <prefix>_<UTC yyyymmddHHMMSS>_<pid>. */
export const RESTORE_TEMP_PREFIX = "quay_restore_proof";
/**
 * The backup format: manifest.json's `format`, and the first line of the `.hmac` tag beside each object.
 * 2: encrypt-then-MAC (HMAC-SHA256 over the format, the object's name and the ciphertext, in
 * <object>.hmac). 1 (before): the same encryption without a MAC; the restore proof refuses it (docs/backups.md
 * restores one by hand).
 */
export const MANIFEST_FORMAT = "quay-mirror-backup/2";
/**
 * The salt of the MAC key's derivation (PBKDF2-HMAC-SHA512 of the passphrase): a fixed label, "quayhmac" in
 * hex. With a different PRF than the encryption key's (PBKDF2-HMAC-SHA256, a random salt per object), the two
 * keys are independent.
 */
export const MAC_KEY_SALT = Buffer.from("quayhmac", "latin1").toString("hex");
/** The operating-system user and PostgreSQL role the restore proof restores as (no superuser; peer auth). */
export const RESTORE_ROLE = "quay_restore_proof";
/** The role that owns Quay's database (QuayHost's postgres step makes it): the rebuild restores as it. */
export const DATABASE_OWNER = "quay";
/** Where quay-restore-database records the backup it restored (JSON): a rerun restores nothing over newer data. */
export const RESTORED_MARKER = "/var/lib/quay/.quay-mirror-restored";
/** The rebuild command (installed by the install step): quay-restore-database [--overwrite] latest|<timestamp>. */
export const REBUILD_COMMAND = "/usr/local/sbin/quay-restore-database";
/** A backup's name in stack settings: "latest" or its UTC timestamp (the folder under <bucket>/<prefix>/). */
export const RESTORE_FROM_RE = /^(latest|[0-9]{8}T[0-9]{6}Z)$/;

/**
 * One SQL statement that returns, as one JSON object on one line, the exact row count of every table of the
 * connected database ({"public.user": 3, …}): each count is a real `count(*)` (query_to_xml runs it), taken
 * inside the caller's transaction — at backup time, the exported snapshot pg_dump dumps.
 */
export const COUNT_ROWS_SQL =
  "SELECT coalesce(json_object_agg(t.name, t.n ORDER BY t.name), '{}'::json) FROM (" +
  "SELECT n.nspname || '.' || c.relname AS name, " +
  "(xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text::bigint AS n " +
  "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace " +
  "WHERE c.relkind IN ('r', 'p') AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema') t;";

// ---- templates ----------------------------------------------------------------------------------------

export const BACKUP_TEMPLATES = ["secrets", "install", "destroy", "restore", "quay-backup-to-minio", "quay-restore-validate", "quay-restore-database"] as const;
export type BackupTemplate = (typeof BACKUP_TEMPLATES)[number];

export function readBackupTemplate(name: BackupTemplate): string {
  if (!(BACKUP_TEMPLATES as readonly string[]).includes(name)) throw new Error(`unknown backup template ${name}`);
  return readComponentTemplate("quay-backups", name);
}

/** Fills templates/<name>.sh with QuayHost's renderer: every value quoted by shq, in the values block only. */
export function renderBackupTemplate(name: BackupTemplate, values: Record<string, StepValue>): string {
  return renderTemplateText(readBackupTemplate(name), values, name);
}

// ---- the host scripts -----------------------------------------------------------------------------------

export interface BackupSettings {
  /** Quay's production database. */
  database: string;
  /** The MinIO client on the host. */
  mcPath: string;
  bucket: string;
  /** Key prefix inside the bucket: backups land in <bucket>/<prefix>/<UTC timestamp>/. */
  prefix: string;
}

export function renderBackupScript(s: BackupSettings): string {
  return renderBackupTemplate("quay-backup-to-minio", {
    DATABASE: s.database,
    MC: s.mcPath,
    MC_CONFIG: BACKUP_MC_CONFIG,
    BUCKET: s.bucket,
    PREFIX: s.prefix,
    PASSPHRASE_FILE,
    QUAY_CONFIG: `${QUAY_CONFIG_DIR}/config.yaml`,
    QUAY_UNIT: QUAY_UNIT_PATH,
    WORK_ROOT: BACKUP_WORK_ROOT,
    ITERATIONS: PBKDF2_ITERATIONS,
    COUNT_SQL: COUNT_ROWS_SQL,
    FORMAT: MANIFEST_FORMAT,
    MAC_SALT: MAC_KEY_SALT,
  });
}

/** The values of templates/lib/backup-fetch.sh, which the restore proof and the rebuild both include. */
function fetchValues(s: BackupSettings): Record<string, StepValue> {
  return {
    MC: s.mcPath,
    MC_CONFIG: RESTORE_MC_CONFIG,
    BUCKET: s.bucket,
    PREFIX: s.prefix,
    PASSPHRASE_FILE,
    WORK_ROOT: BACKUP_WORK_ROOT,
    ITERATIONS: PBKDF2_ITERATIONS,
    COUNT_SQL: COUNT_ROWS_SQL,
  };
}

export function renderRestoreScript(s: BackupSettings): string {
  return renderBackupTemplate("quay-restore-validate", {
    DATABASE: s.database,
    ...fetchValues(s),
    TEMP_PREFIX: RESTORE_TEMP_PREFIX,
    FORMAT: MANIFEST_FORMAT,
    MAC_SALT: MAC_KEY_SALT,
    RESTORE_ROLE,
  });
}

/** quay-restore-database: the rebuild from backup (the restore step runs it; an operator may too). */
export function renderRebuildScript(s: BackupSettings): string {
  return renderBackupTemplate("quay-restore-database", {
    DATABASE: s.database,
    DB_OWNER: DATABASE_OWNER,
    ...fetchValues(s),
    FORMAT: MANIFEST_FORMAT,
    MAC_SALT: MAC_KEY_SALT,
    QUAY_CONFIG: `${QUAY_CONFIG_DIR}/config.yaml`,
    MARKER: RESTORED_MARKER,
  });
}

/** The values of the restore step: which backup, and whether it may replace a database that holds tables. */
export function restoreValues(from: string, overwrite: boolean): Record<string, StepValue> {
  if (!RESTORE_FROM_RE.test(from)) throw new Error(`restore: ${JSON.stringify(from)} is neither latest nor a backup timestamp`);
  return { SCRIPT: REBUILD_COMMAND, FROM: from, OVERWRITE: overwrite };
}

// ---- systemd units --------------------------------------------------------------------------------------

export interface Schedules {
  /** systemd OnCalendar= of the backup. */
  backup: string;
  /** systemd OnCalendar= of the restore proof. */
  restoreValidate: string;
  /** RandomizedDelaySec= of both timers. */
  randomizedDelaySeconds: number;
}

/** A calendar expression a unit file can hold verbatim (the install step also asks systemd-analyze). */
export const CALENDAR_RE = /^[A-Za-z0-9*][A-Za-z0-9*:,./~ -]{0,63}$/;

function service(description: string, exec: string, timeoutStart: string): string {
  return [
    "# Managed by quay-mirror (Pulumi QuayBackups). Local edits are overwritten on the next change.",
    "[Unit]",
    `Description=${description}`,
    "Wants=network-online.target",
    "After=network-online.target postgresql.service",
    "",
    "[Service]",
    "Type=oneshot",
    `ExecStart=${exec}`,
    "UMask=0077",
    "PrivateTmp=true",
    "Nice=10",
    "IOSchedulingClass=idle",
    `TimeoutStartSec=${timeoutStart}`,
    "",
  ].join("\n");
}

function timer(description: string, unit: string, calendar: string, delay: number): string {
  if (!CALENDAR_RE.test(calendar)) throw new Error(`timer ${unit}: calendar ${JSON.stringify(calendar)} has characters a unit file cannot hold`);
  return [
    "# Managed by quay-mirror (Pulumi QuayBackups). Local edits are overwritten on the next change.",
    "[Unit]",
    `Description=${description}`,
    "",
    "[Timer]",
    `OnCalendar=${calendar}`,
    "Persistent=true",
    `RandomizedDelaySec=${delay}`,
    `Unit=${unit}`,
    "",
    "[Install]",
    "WantedBy=timers.target",
    "",
  ].join("\n");
}

export interface BackupUnits {
  backupService: string;
  backupTimer: string;
  restoreService: string;
  restoreTimer: string;
}

export function renderBackupUnits(schedules: Schedules): BackupUnits {
  return {
    backupService: service("Quay backup to MinIO: pg_dump + config, encrypted (quay-mirror)", `${SBIN_DIR}/quay-backup-to-minio`, "6h"),
    backupTimer: timer("Daily Quay backup to MinIO (quay-mirror)", "quay-backup.service", schedules.backup, schedules.randomizedDelaySeconds),
    restoreService: service("Quay restore proof: the latest backup restores with the row counts it recorded (quay-mirror)", `${SBIN_DIR}/quay-restore-validate`, "6h"),
    restoreTimer: timer("Weekly Quay restore proof (quay-mirror)", "quay-restore-validate.service", schedules.restoreValidate, schedules.randomizedDelaySeconds),
  };
}

/** The values of the install step. */
export function installValues(s: BackupSettings, schedules: Schedules): Record<string, StepValue> {
  const u = renderBackupUnits(schedules);
  return {
    SBIN_DIR,
    UNIT_DIR,
    BACKUP_SCRIPT: renderBackupScript(s),
    RESTORE_SCRIPT: renderRestoreScript(s),
    REBUILD_SCRIPT: renderRebuildScript(s),
    BACKUP_SERVICE: u.backupService,
    BACKUP_TIMER: u.backupTimer,
    RESTORE_SERVICE: u.restoreService,
    RESTORE_TIMER: u.restoreTimer,
    CALENDARS: [schedules.backup, schedules.restoreValidate],
    WORK_ROOT: BACKUP_WORK_ROOT,
  };
}

export function destroyValues(): Record<string, StepValue> {
  return { SBIN_DIR, UNIT_DIR, CONFIG_DIR: BACKUP_CONFIG_DIR, WORK_ROOT: BACKUP_WORK_ROOT, RESTORE_ROLE };
}
