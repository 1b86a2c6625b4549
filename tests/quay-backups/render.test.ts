// QuayBackups' rendering: every template passes shellcheck and carries any value — however hostile — inert
// into the script; the units and timers say what the design says; the secrets step writes root-only files
// from stdin and refuses malformed input.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  BACKUP_TEMPLATES,
  BackupTemplate,
  COUNT_ROWS_SQL,
  destroyValues,
  installValues,
  readBackupTemplate,
  renderBackupScript,
  renderBackupTemplate,
  renderBackupUnits,
  renderRebuildScript,
  renderRestoreScript,
  restoreValues,
} from "../../components/quay-backups/render";
import { StepValue, templatePlaceholders, valuesBlock } from "../../components/quay-host/render";
import { bash, HOSTILE } from "../quay-host/samples";

const SETTINGS = { database: "quay", mcPath: "/usr/local/lib/quay-mirror/bin/mc", bucket: "quay-backups", prefix: "quay" };
const SCHEDULES = { backup: "daily", restoreValidate: "weekly", randomizedDelaySeconds: 3600 };

/** Realistic values for every template (what the component passes). */
function sampleValues(): Record<BackupTemplate, Record<string, StepValue>> {
  return {
    secrets: { CONFIG_DIR: "/etc/quay-backup", ENDPOINT: "http://10.77.0.1:9000" },
    install: installValues(SETTINGS, SCHEDULES),
    destroy: destroyValues(),
    "quay-backup-to-minio": {
      DATABASE: "quay", MC: SETTINGS.mcPath, MC_CONFIG: "/etc/quay-backup/mc-backup/config.json", BUCKET: "quay-backups", PREFIX: "quay",
      PASSPHRASE_FILE: "/etc/quay-backup/passphrase", QUAY_CONFIG: "/etc/quay/config/config.yaml", QUAY_UNIT: "/etc/systemd/system/quay.service",
      WORK_ROOT: "/var/lib/quay-backup", ITERATIONS: 200000, COUNT_SQL: COUNT_ROWS_SQL, FORMAT: "quay-mirror-backup/2", MAC_SALT: "7175617968",
    },
    "quay-restore-validate": {
      DATABASE: "quay", MC: SETTINGS.mcPath, MC_CONFIG: "/etc/quay-backup/mc-restore/config.json", BUCKET: "quay-backups", PREFIX: "quay",
      PASSPHRASE_FILE: "/etc/quay-backup/passphrase", WORK_ROOT: "/var/lib/quay-backup", ITERATIONS: 200000, COUNT_SQL: COUNT_ROWS_SQL, TEMP_PREFIX: "quay_restore_proof",
      FORMAT: "quay-mirror-backup/2", MAC_SALT: "7175617968", RESTORE_ROLE: "quay_restore_proof",
    },
    "quay-restore-database": {
      DATABASE: "quay", DB_OWNER: "quay", MC: SETTINGS.mcPath, MC_CONFIG: "/etc/quay-backup/mc-restore/config.json", BUCKET: "quay-backups", PREFIX: "quay",
      PASSPHRASE_FILE: "/etc/quay-backup/passphrase", WORK_ROOT: "/var/lib/quay-backup", ITERATIONS: 200000, COUNT_SQL: COUNT_ROWS_SQL,
      FORMAT: "quay-mirror-backup/2", MAC_SALT: "7175617968", QUAY_CONFIG: "/etc/quay/config/config.yaml", MARKER: "/var/lib/quay/.quay-mirror-restored",
    },
    restore: restoreValues("latest", false),
  };
}

function shellcheck(files: string[]): string {
  const r = spawnSync("shellcheck", ["--shell=bash", "--severity=style", ...files], { encoding: "utf8" });
  if (r.error) throw new Error(`shellcheck is not installed: ${r.error.message}`);
  return r.stdout + r.stderr;
}

let dir: string;
beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "qm-backups-render-"))));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("templates", () => {
  test("one file per template; each has the shape QuayHost's renderer requires and every placeholder has a sample", () => {
    const files = fs.readdirSync(path.join(__dirname, "../../components/quay-backups/templates")).filter((f) => f.endsWith(".sh")).sort();
    expect(files).toEqual([...BACKUP_TEMPLATES].map((t) => `${t}.sh`).sort());
    const samples = sampleValues();
    for (const t of BACKUP_TEMPLATES) {
      const text = readBackupTemplate(t);
      expect(text.startsWith("#!/usr/bin/env bash\n")).toBe(true);
      expect(text.split("\n")).toContain("set -euo pipefail");
      expect(Object.keys(samples[t]).sort()).toEqual([...new Set(templatePlaceholders(text))].sort());
    }
  });

  test("every rendered template passes shellcheck, and the scripts the install step carries do too", () => {
    const samples = sampleValues();
    const files = BACKUP_TEMPLATES.map((t) => {
      const f = path.join(dir, `${t}.sh`);
      fs.writeFileSync(f, renderBackupTemplate(t, samples[t]));
      return f;
    });
    for (const [n, text] of [
      ["backup", renderBackupScript(SETTINGS)],
      ["restore", renderRestoreScript(SETTINGS)],
      ["rebuild", renderRebuildScript(SETTINGS)],
    ]) {
      const f = path.join(dir, `installed-${n}.sh`);
      fs.writeFileSync(f, text!);
      files.push(f);
    }
    expect(shellcheck(files)).toBe("");
  });

  test("hostile values stay inert: each arrives in its variable unchanged, nothing runs", () => {
    const samples = sampleValues();
    for (const t of BACKUP_TEMPLATES) {
      for (const hostile of HOSTILE) {
        if (hostile === "") continue;
        const values = Object.fromEntries(Object.entries(samples[t]).map(([k, v]) => [k, Array.isArray(v) ? [hostile, hostile] : hostile]));
        const rendered = renderBackupTemplate(t, values);
        const block = valuesBlock(rendered);
        const cwd = fs.mkdtempSync(path.join(dir, "inert-"));
        const names = [...block.matchAll(/^readonly ([a-z_][a-z0-9_]*)=(\()?/gm)].map((m) => ({ name: m[1]!, array: m[2] === "(" }));
        const probe = names.map((v) => (v.array ? `printf '%s\\0' "\${${v.name}[@]}"` : `printf '%s\\0' "$${v.name}"`)).join("; ");
        const r = bash(`${block}\n${probe}`, { cwd });
        expect({ t, hostile, status: r.status }).toEqual({ t, hostile, status: 0 });
        const want = names.flatMap((v) => (v.array ? [hostile, hostile] : [hostile]));
        expect(r.stdout.split("\0").slice(0, -1)).toEqual(want);
        expect(fs.readdirSync(cwd)).toEqual([]);
      }
    }
  });
});

describe("units and timers", () => {
  test("daily backup and weekly proof: persistent, randomized delay, oneshot services that fail loudly", () => {
    const u = renderBackupUnits(SCHEDULES);
    expect(u.backupTimer).toContain("OnCalendar=daily\nPersistent=true\nRandomizedDelaySec=3600\nUnit=quay-backup.service\n");
    expect(u.restoreTimer).toContain("OnCalendar=weekly\nPersistent=true\nRandomizedDelaySec=3600\nUnit=quay-restore-validate.service\n");
    for (const t of [u.backupTimer, u.restoreTimer]) expect(t).toContain("[Install]\nWantedBy=timers.target\n");
    expect(u.backupService).toContain("Type=oneshot\nExecStart=/usr/local/sbin/quay-backup-to-minio\nUMask=0077\n");
    expect(u.restoreService).toContain("ExecStart=/usr/local/sbin/quay-restore-validate\n");
    // no EnvironmentFile or credential in a unit: the scripts read root-only files
    for (const text of Object.values(u)) expect(text).not.toMatch(/Environment|secret|password/i);
    expect(() => renderBackupUnits({ ...SCHEDULES, backup: "daily\nExecStart=/bin/sh" })).toThrow(/cannot hold/);
  });

  test("the count query counts every table of every non-system schema with count(*)", () => {
    expect(COUNT_ROWS_SQL).toMatch(/query_to_xml\(format\('SELECT count\(\*\) AS n FROM %I\.%I'/);
    expect(COUNT_ROWS_SQL).toMatch(/relkind IN \('r', 'p'\)/);
    expect(COUNT_ROWS_SQL).not.toMatch(/reltuples|n_live_tup/); // estimates are not counts
  });
});

describe("the scripts' contracts", () => {
  const backup = renderBackupScript(SETTINGS);
  const restore = renderRestoreScript(SETTINGS);
  test("backup: one snapshot for counts and dump; openssl reads the passphrase from its file; plaintext removed before upload", () => {
    expect(backup).toMatch(/BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;" "SELECT pg_export_snapshot\(\);"/);
    expect(backup).toMatch(/pg_dump --snapshot="\$snapshot" -Fc -d "\$database"/);
    expect(backup).toMatch(/openssl enc -aes-256-cbc -salt -pbkdf2 -iter "\$iterations" -pass "file:\$passphrase_file"/);
    expect(backup).toContain("readonly iterations='200000'");
    const encrypt = backup.indexOf("openssl enc -aes-256-cbc");
    const removePlain = backup.indexOf('rm -f -- "$work/$name.tar.gz"');
    const upload = backup.indexOf('mc_run cp "$work/$f"');
    expect(encrypt).toBeGreaterThan(0);
    expect(removePlain).toBeGreaterThan(encrypt);
    expect(upload).toBeGreaterThan(removePlain);
    expect(backup).toContain('"backup/$bucket/$prefix/$ts/$f"');
  });
  test("restore: reader's keys, temporary database only, every table compared both ways", () => {
    expect(restore).toContain("readonly mc_config='/etc/quay-backup/mc-restore/config.json'");
    expect(restore).toMatch(/runuser -u "\$restore_role" -- pg_restore --exit-on-error --no-owner --no-privileges -d "\$temp_db"/);
    expect(restore).not.toMatch(/runuser -u postgres -- pg_restore/); // never as the database superuser
    expect(restore).toContain("readonly restore_role='quay_restore_proof'");
    expect(restore).toMatch(/CREATE ROLE \\"\$restore_role\\" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE/);
    // authenticated before anything decrypts or restores it
    const mac = restore.indexOf('if [ "$got_mac" != "$want_mac" ]; then');
    expect(mac).toBeGreaterThan(0);
    expect(restore.indexOf("openssl enc -d")).toBeGreaterThan(mac);
    expect(restore.indexOf("-- pg_restore")).toBeGreaterThan(mac);
    expect(restore).not.toMatch(/-d "\$production_database"/);
    expect(restore).toMatch(/\[\(\$want \| keys\[\]\), \(\$got \| keys\[\]\)\] \| unique\[\]/);
  });

  test("rebuild: the marker and the tables guard come first; secrets, authentication and counts before the swap; never as a superuser", () => {
    const rebuild = renderRebuildScript(SETTINGS);
    const at = (s: string) => {
      const i = rebuild.indexOf(s);
      expect({ s, found: i >= 0 }).toEqual({ s, found: true });
      return i;
    };
    const marker = at('if [ -f "$marker" ]; then');
    const tables = at('if [ "$tables" != 0 ] && [ "$overwrite" = 0 ]; then');
    const fetch = at('fetch_backup "$selector" quay.dump config.yaml');
    const mac = at('if [ "$got_mac" != "$want_mac" ]; then');
    const secrets = at("for k in DATABASE_SECRET_KEY SECRET_KEY; do");
    const create = at('CREATE DATABASE \\"$new_db\\" OWNER \\"$db_owner\\"');
    const restore = at('runuser -u "$db_owner" -- pg_restore --exit-on-error --single-transaction --no-owner --no-privileges -d "$new_db"');
    const counts = at("row counts of the restored backup $stamp differ from its manifest");
    const swap = at('ALTER DATABASE \\"$new_db\\" RENAME TO \\"$database\\"');
    const record = at('mv -f "$marker.tmp" "$marker"');
    // the guards before anything is fetched; the MAC (in the shared fetch code) before the secrets check
    expect(marker).toBeLessThan(tables);
    expect(tables).toBeLessThan(fetch);
    expect(rebuild.indexOf("fetch_backup() {")).toBeLessThan(fetch);
    expect(mac).toBeLessThan(fetch); // the function's body precedes its call
    // nothing is created before the secrets match; the swap only after the counts; the record after the swap
    expect(secrets).toBeLessThan(create);
    expect(create).toBeLessThan(restore);
    expect(restore).toBeLessThan(counts);
    expect(counts).toBeLessThan(swap);
    expect(swap).toBeLessThan(record);
    expect(rebuild).not.toMatch(/runuser -u postgres -- pg_restore/);
    expect(rebuild).toContain("readonly marker='/var/lib/quay/.quay-mirror-restored'");
    expect(rebuild).toContain("readonly db_owner='quay'");
    // the restore proof and the rebuild carry the same fetch code
    const block = (t: string) => t.slice(t.indexOf("# --- fetch, check, authenticate"), t.indexOf("# --- end of fetch ---"));
    expect(block(rebuild).length).toBeGreaterThan(1000);
    expect(block(rebuild)).toBe(block(renderRestoreScript(SETTINGS)));
  });

  test("rebuild: only latest, a backup's timestamp and --overwrite are accepted, before anything else runs", () => {
    const f = path.join(dir, "rebuild-args.sh");
    fs.writeFileSync(f, renderRebuildScript(SETTINGS));
    const run = (...args: string[]) => spawnSync("bash", [f, ...args], { encoding: "utf8", cwd: dir });
    for (const bad of ["20261207T031500Z; id", "../x", "2026-12-07", "--force"]) {
      const r = run(bad);
      expect({ bad, status: r.status }).toEqual({ bad, status: 1 });
      expect(r.stderr).toContain("quay-restore-database FAILED: unknown argument");
      expect(r.stdout).toBe("");
    }
    expect(run().stderr).toContain("quay-restore-database FAILED: which backup? — usage: quay-restore-database [--overwrite] latest|");
    expect(run("--help")).toMatchObject({ status: 0, stdout: expect.stringContaining("usage: quay-restore-database") });
  });
});

describe("the secrets step", () => {
  const run = (configDir: string, input: string) => bash(renderBackupTemplate("secrets", { CONFIG_DIR: configDir, ENDPOINT: "http://10.77.0.1:9000" }), { input });
  const good = { passphrase: "p".repeat(30) + `'"$(x)%:@`, backup: { accessKey: "quay-backup", secretKey: "b:k@/%'\"" }, restore: { accessKey: "quay-restore", secretKey: "r$(id)" } };
  const isRoot = process.getuid?.() === 0;
  (isRoot ? test : test.skip)("writes the passphrase and one mc configuration per user, root 0600 in 0700 directories; idempotent", () => {
    const cfg = path.join(dir, "etc-quay-backup");
    const r = run(cfg, JSON.stringify(good));
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).not.toContain("p".repeat(30));
    expect(fs.readFileSync(path.join(cfg, "passphrase"), "utf8")).toBe(`${good.passphrase}\n`);
    for (const f of ["passphrase", "mc-backup/config.json", "mc-restore/config.json"]) expect((fs.statSync(path.join(cfg, f)).mode & 0o777).toString(8)).toBe("600");
    for (const d of ["", "mc-backup", "mc-restore"]) expect((fs.statSync(path.join(cfg, d)).mode & 0o777).toString(8)).toBe("700");
    expect(JSON.parse(fs.readFileSync(path.join(cfg, "mc-backup/config.json"), "utf8")).aliases).toEqual({
      backup: { url: "http://10.77.0.1:9000", accessKey: "quay-backup", secretKey: good.backup.secretKey, api: "s3v4", path: "auto" },
    });
    expect(Object.keys(JSON.parse(fs.readFileSync(path.join(cfg, "mc-restore/config.json"), "utf8")).aliases)).toEqual(["restore"]);
    expect(run(cfg, JSON.stringify(good)).stdout).toMatch(/passphrase unchanged/);
  });
  test("refuses malformed input, a short or multi-line passphrase, missing keys — without echoing anything", () => {
    const cfg = path.join(dir, "refused");
    for (const input of ["", "not json", JSON.stringify({ ...good, passphrase: "short" }), JSON.stringify({ ...good, passphrase: `${"x".repeat(25)}\nsecond` }), JSON.stringify({ ...good, restore: { accessKey: "x" } })]) {
      const r = run(cfg, input);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/secrets step: stdin must be/);
      expect(r.stderr).not.toContain("x".repeat(25));
    }
    expect(fs.existsSync(cfg)).toBe(false);
  });
});
