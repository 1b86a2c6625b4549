// The host's side of verify: one SSH session (OpenSSH, with the stack's connection settings and the project's
// host-key pinning: hostKey or knownHostsFile, StrictHostKeyChecking yes, no other known_hosts file, so an
// unknown or changed host key is refused) runs host-facts.sh, which only reads; the facts are then judged here.
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { hostKeyFromKnownHosts, isHostKeyPlaceholder, knownHostsName } from "../../config/known-hosts";
import { QUAY_HTTP_PORT, renderTemplateText, sshCommand } from "../../components/quay-host/render";
import { CheckLine, fail, ok } from "./report";

// ---- the connection ----------------------------------------------------------------------------------

export interface SshEndpoint {
  host: string;
  port: number;
  user: string;
  /** The pinned host key (`ssh-ed25519 AAAA…`). */
  hostKey: string;
  /** The SSH agent's socket (connection.agentSocketPath), else the key comes from `privateKey`. */
  agentSocketPath?: string;
}

export interface SshTarget extends SshEndpoint {
  bastion?: SshEndpoint;
  /** The sshPrivateKey secret, when no agent is configured: loaded into a private, short-lived agent. */
  privateKey?: string;
}

const HOST_RE = /^[A-Za-z0-9][A-Za-z0-9.:-]*$/;
const USER_RE = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const PATH_RE = /^\/[A-Za-z0-9._/@+,=~-]+$/;
const KEY_RE = /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/=]+$/;

/**
 * The SSH target from `quay-mirror:host.connection` (and the sshPrivateKey secret), or why verify cannot
 * connect without trusting an unknown key. `projectDir` resolves a relative knownHostsFile as the program does.
 */
export function sshTargetFromConfig(host: Record<string, unknown> | undefined, privateKey: string | undefined, projectDir: string): SshTarget | { problem: string } {
  const c = (host?.connection ?? {}) as Record<string, unknown>;
  const endpoint = (e: Record<string, unknown>, at: string, inheritAgent?: string): SshEndpoint | { problem: string } => {
    const h = e.host;
    const port = e.port === undefined ? 22 : Number(e.port);
    const user = e.user === undefined ? "root" : String(e.user);
    if (typeof h !== "string" || !HOST_RE.test(h)) return { problem: `${at}.host is not a host name or address` };
    if (!Number.isInteger(port) || port < 1 || port > 65535) return { problem: `${at}.port is not a TCP port` };
    if (!USER_RE.test(user)) return { problem: `${at}.user is not a user name` };
    let key: string;
    if (typeof e.hostKey === "string" && !isHostKeyPlaceholder(e.hostKey)) key = e.hostKey.trim().split(/\s+/).slice(0, 2).join(" ");
    else if (typeof e.knownHostsFile === "string") {
      const file = path.isAbsolute(e.knownHostsFile) || e.knownHostsFile.startsWith("~") ? e.knownHostsFile : path.join(projectDir, e.knownHostsFile);
      const r = hostKeyFromKnownHosts(file, h, port);
      if ("problem" in r) return { problem: `${at}.knownHostsFile: ${r.problem}` };
      key = r.key;
    } else {
      return { problem: `${at} pins no host key (hostKey or knownHostsFile): verify never accepts an unknown host key — fix: pin the key the stack trusts (README "SSH host key")` };
    }
    if (!KEY_RE.test(key)) return { problem: `${at}: the pinned host key is not one public key in authorized_keys format` };
    const agent = e.agentSocketPath === undefined ? inheritAgent : String(e.agentSocketPath);
    if (agent !== undefined && !PATH_RE.test(agent)) return { problem: `${at}.agentSocketPath is not an absolute path` };
    return { host: h, port, user, hostKey: key, ...(agent ? { agentSocketPath: agent } : {}) };
  };
  const main = endpoint(c, "quay-mirror:host.connection");
  if ("problem" in main) return main;
  if (c.privateKeyPassword !== undefined) return { problem: "quay-mirror:host.connection.privateKeyPassword is set: verify cannot load an encrypted key — fix: use agentSocketPath (ssh-add asks for the passphrase)" };
  let bastion: SshEndpoint | undefined;
  if (c.bastion && typeof c.bastion === "object") {
    const b = endpoint(c.bastion as Record<string, unknown>, "quay-mirror:host.connection.bastion", main.agentSocketPath);
    if ("problem" in b) return b;
    if ((c.bastion as Record<string, unknown>).privateKey !== undefined) return { problem: "quay-mirror:host.connection.bastion.privateKey is set: verify uses the connection's agent or key for the bastion — fix: use agentSocketPath" };
    bastion = b;
  }
  if (!main.agentSocketPath && !privateKey) return { problem: "neither quay-mirror:host.connection.agentSocketPath nor the sshPrivateKey secret is set: no way to authenticate" };
  return { ...main, ...(bastion ? { bastion } : {}), ...(main.agentSocketPath ? {} : { privateKey }) };
}

/** The ssh_config and known_hosts verify writes into its private temporary directory. Pure. */
export function sshFiles(t: SshTarget, dir: string, agentSocket: string): { config: string; knownHosts: string } {
  const known = [t, ...(t.bastion ? [t.bastion] : [])].map((e) => `${knownHostsName(e.host, e.port)} ${e.hostKey}`);
  const block = (alias: string, e: SshEndpoint, jump?: string) => [
    `Host ${alias}`,
    `  HostName ${e.host}`,
    `  Port ${e.port}`,
    `  User ${e.user}`,
    `  IdentityAgent "${e.agentSocketPath ?? agentSocket}"`,
    `  UserKnownHostsFile "${dir}/known_hosts"`,
    "  GlobalKnownHostsFile /dev/null",
    "  StrictHostKeyChecking yes",
    "  CheckHostIP no",
    "  UpdateHostKeys no",
    "  BatchMode yes",
    "  PasswordAuthentication no",
    "  KbdInteractiveAuthentication no",
    "  ForwardAgent no",
    "  ConnectTimeout 15",
    "  ServerAliveInterval 15",
    ...(jump ? [`  ProxyJump ${jump}`] : []),
  ];
  const lines = ["# written by quay-mirror verify; removed when it ends", ...block("quay-host", t, t.bastion ? "quay-bastion" : undefined), ...(t.bastion ? block("quay-bastion", t.bastion) : [])];
  return { config: lines.join("\n") + "\n", knownHosts: known.join("\n") + "\n" };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command on the host; the real one is OpenSSH (sshRunner), tests give a fake. */
export type HostRunner = (remoteCommand: string) => Promise<RunResult>;

function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGTERM"), opts.timeoutMs ?? 120_000);
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", (e) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout, stderr: stderr + String(e.message) });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
    child.stdin.end(opts.input ?? "");
  });
}

/**
 * An OpenSSH runner for `target`, and its cleanup. With the sshPrivateKey secret, the key goes on stdin into a
 * private ssh-agent on a socket in a 0700 temporary directory (never on disk, never on argv), killed by cleanup.
 */
export async function sshRunner(target: SshTarget, ssh = "ssh"): Promise<{ runner: HostRunner; cleanup: () => void }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "qm-verify-ssh-"));
  fs.chmodSync(dir, 0o700);
  const agentSocket = path.join(dir, "agent.sock");
  let agent: ReturnType<typeof spawn> | undefined;
  const cleanup = () => {
    if (agent && agent.exitCode === null) agent.kill("SIGTERM");
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    if (target.privateKey !== undefined) {
      agent = spawn("ssh-agent", ["-D", "-a", agentSocket], { stdio: "ignore" });
      for (let i = 0; i < 100 && !fs.existsSync(agentSocket); i++) await new Promise((r) => setTimeout(r, 50));
      const key = target.privateKey.endsWith("\n") ? target.privateKey : `${target.privateKey}\n`;
      const added = await run("ssh-add", ["-q", "-"], { env: { ...process.env, SSH_AUTH_SOCK: agentSocket }, input: key, timeoutMs: 15_000 });
      if (added.code !== 0) throw new Error(`ssh-add refused the sshPrivateKey secret: ${added.stderr.trim().split("\n").pop() ?? ""}`);
    }
    const files = sshFiles(target, dir, agentSocket);
    fs.writeFileSync(path.join(dir, "known_hosts"), files.knownHosts, { mode: 0o600 });
    fs.writeFileSync(path.join(dir, "config"), files.config, { mode: 0o600 });
  } catch (e) {
    cleanup();
    throw e;
  }
  const runner: HostRunner = (remote) => run(ssh, ["-F", path.join(dir, "config"), "-T", "quay-host", remote], { timeoutMs: 120_000 });
  return { runner, cleanup };
}

// ---- what is asked, and the verdicts ---------------------------------------------------------------------

export interface HostPlan {
  /** systemd units that must be active. */
  units: string[];
  /** The backup and restore-proof services whose last run is judged (absent: backups are off). */
  backup?: { backup: string; restoreValidate: string };
  user: string;
}

const UNIT_RE = /^[A-Za-z0-9@._-]+\.(service|timer)$|^[A-Za-z0-9@._-]+$/;

export function hostPlan(user: string, backupUnits?: { backup: string; restoreValidate: string }): HostPlan {
  const units = ["quay.service", "postgresql", "redis-server"];
  if (backupUnits) units.push(...[backupUnits.backup, backupUnits.restoreValidate].map((u) => u.replace(/\.service$/, ".timer")));
  for (const u of [...units, ...(backupUnits ? [backupUnits.backup, backupUnits.restoreValidate] : [])]) if (!UNIT_RE.test(u)) throw new Error(`not a systemd unit name: ${JSON.stringify(u)}`);
  return { units, backup: backupUnits, user };
}

function templateText(): string {
  const candidates = [path.join(__dirname, "host-facts.sh"), path.resolve(__dirname, "..", "..", "..", "scripts", "verify", "host-facts.sh")];
  for (const c of candidates) if (fs.existsSync(c)) return fs.readFileSync(c, "utf8");
  throw new Error(`scripts/verify/host-facts.sh not found (looked in ${candidates.join(", ")})`);
}

/** The remote command: host-facts.sh filled by the project's renderer, under sudo -n unless the user is root. */
export function hostCommand(plan: HostPlan): string {
  const script = renderTemplateText(templateText(), { UNITS: plan.units, JOB_UNITS: plan.backup ? [plan.backup.backup, plan.backup.restoreValidate] : [], PORT: QUAY_HTTP_PORT }, "verify host-facts");
  return sshCommand(script, { sudo: plan.user !== "root", label: "verify" });
}

export interface HostFacts {
  active: Record<string, string>;
  http: Record<string, string>;
  show: Record<string, Record<string, string>>;
  now?: number;
}

export function parseFacts(stdout: string): HostFacts {
  const facts: HostFacts = { active: {}, http: {}, show: {} };
  for (const line of stdout.split("\n")) {
    const m = /^(\S+) (\S+) ?(.*)$/.exec(line);
    if (!m) continue;
    const [, kind, name, value] = m as unknown as [string, string, string, string];
    if (kind === "active") facts.active[name] = value;
    else if (kind === "http") facts.http[name] = value;
    else if (kind === "show") {
      const eq = value.indexOf("=");
      if (eq > 0) (facts.show[name] ??= {})[value.slice(0, eq)] = value.slice(eq + 1);
    } else if (kind === "now") facts.now = Number(value);
  }
  return facts;
}

export interface HostLimits {
  /** The latest backup may be this old (default 26 h: a daily timer with up to 1 h of randomized delay). */
  maxBackupAgeHours: number;
  /** The last restore proof may be this old (default 8 days: a weekly timer). */
  maxRestoreAgeHours: number;
}

export const DEFAULT_LIMITS: HostLimits = { maxBackupAgeHours: 26, maxRestoreAgeHours: 8 * 24 };

const age = (hours: number) => (hours < 48 ? `${hours.toFixed(1)} h` : `${(hours / 24).toFixed(1)} days`);

function lastRun(what: string, unit: string, show: Record<string, string> | undefined, now: number, maxHours: number, start: string): CheckLine {
  if (!show || show.LoadState !== "loaded") return fail(what, `${unit} is not installed on the host (LoadState ${show?.LoadState ?? "unknown"}) — fix: bash scripts/pulumi.sh up`);
  const at = /^@(\d+)$/.exec(show.ExecMainExitTimestamp ?? "");
  if (!at) return fail(what, `${unit} has not run since the host booted — fix: ${start}`);
  if (show.Result !== "success" || (show.ExecMainStatus ?? "0") !== "0") {
    return fail(what, `${unit}'s last run failed (Result ${show.Result}, exit status ${show.ExecMainStatus}) ${age((now - Number(at[1])) / 3600)} ago — see journalctl -u ${unit}`);
  }
  const hours = (now - Number(at[1])) / 3600;
  if (hours > maxHours) return fail(what, `${unit} last succeeded ${age(hours)} ago, more than ${age(maxHours)} — fix: check its timer (systemctl list-timers), or ${start}`);
  return ok(what, `${unit} succeeded ${age(hours)} ago`);
}

/** The verdicts on the facts: one line per unit, health, local discovery, and (with backups) the two jobs. */
export function judgeHost(plan: HostPlan, result: RunResult, limits: HostLimits = DEFAULT_LIMITS): CheckLine[] {
  const lines: CheckLine[] = [];
  const facts = parseFacts(result.stdout);
  const names = [
    ...plan.units.map((u) => `host: ${u.endsWith(".timer") ? "timer" : "unit"} ${u} active`),
    `host: /health/instance on 127.0.0.1:${QUAY_HTTP_PORT} answers 200`,
    `discovery: on the host, http://127.0.0.1:${QUAY_HTTP_PORT}/api/v1/discovery`,
    ...(plan.backup ? ["backups: latest backup", "backups: last restore proof"] : []),
  ];
  if (result.code !== 0 || facts.now === undefined) {
    const why = (result.stderr.trim().split("\n").filter(Boolean).pop() ?? `exit status ${result.code}`).slice(0, 300);
    return names.map((n) => fail(n, why.startsWith("ssh: ") ? why : `ssh: ${why}`));
  }
  for (const u of plan.units) {
    const state = facts.active[u] ?? "unknown";
    const what = `host: ${u.endsWith(".timer") ? "timer" : "unit"} ${u} active`;
    lines.push(state === "active" ? ok(what) : fail(what, `systemctl is-active says ${state || "nothing"} — see systemctl status ${u}`));
  }
  const health = facts.http.health ?? "";
  lines.push(health === "200" ? ok(names[plan.units.length]!) : fail(names[plan.units.length]!, `answered ${health === "000" || health === "" ? "nothing (not listening)" : health} — see journalctl -u quay.service`));
  const disc = facts.http.discovery ?? "";
  lines.push(disc === "200" ? ok(names[plan.units.length + 1]!) : fail(names[plan.units.length + 1]!, `answered ${disc === "000" || disc === "" ? "nothing (not listening)" : disc}`));
  if (plan.backup) {
    const now = facts.now;
    lines.push(lastRun("backups: latest backup", plan.backup.backup, facts.show[plan.backup.backup], now, limits.maxBackupAgeHours, `systemctl start ${plan.backup.backup}`));
    lines.push(lastRun("backups: last restore proof", plan.backup.restoreValidate, facts.show[plan.backup.restoreValidate], now, limits.maxRestoreAgeHours, `systemctl start ${plan.backup.restoreValidate}`));
  }
  return lines;
}
