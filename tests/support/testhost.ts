// Disposable test host for jest tests: a Debian 12 system container (systemd-nspawn, systemd as PID 1)
// reachable over SSH on a private veth pair, created and destroyed by scripts/testhost/{up,down}.sh.
// See docs/testhost.md.
//
//   const host = await startTestHost("qm-pg", { persistent: true });
//   try {
//     const r = await host.ssh("systemctl is-system-running");
//     await host.reboot(); // power cycle: clean power-off, boot the same disk
//   } finally {
//     await host.stop();
//   }
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { describeWithPrerequisites } from "./prerequisites";

export interface TestHostOptions {
  /** Boot a per-name copy of the base that survives reboot() (required for reboot()). Default false. */
  persistent?: boolean;
  /** Third octet N of 10.77.N.0/24; default: the first free one. */
  subnet?: number;
  /** Seconds to wait for SSH and `systemctl is-system-running --wait` (default 180). */
  bootTimeoutSeconds?: number;
}

export interface SshResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface SshOptions {
  /** Written to the remote command's standard input (then closed). */
  stdin?: string | Buffer;
  /** Kill the ssh client after this long (default 10 minutes); the result then has code 124. */
  timeoutMs?: number;
}

export interface TestHost {
  readonly name: string;
  /** Guest address on the private veth (10.77.N.2). */
  readonly host: string;
  readonly port: number;
  /** "ci": passwordless sudo. */
  readonly user: string;
  /** OpenSSH private key (ed25519), generated at run time for this host. */
  readonly privateKey: string;
  readonly privateKeyPath: string;
  /** The guest's SSH host key, "ssh-ed25519 AAAA…", for pinning. */
  readonly hostKey: string;
  /** A known_hosts file that pins hostKey for host. */
  readonly knownHostsPath: string;
  /** Host side of the veth (10.77.N.1), where the apt proxy listens. */
  readonly hostAddress: string;
  /** The allow-listed HTTP proxy the guest's apt uses. */
  readonly proxy: string;
  readonly persistent: boolean;
  /** The host's state directory (keys, console.log, proxy.log, host.json; the disk of a persistent host). */
  readonly stateDir: string;
  /** PID of the host's supervisor (run-guest.sh → systemd-nspawn); changes with a power cycle. */
  readonly pid: number;
  /** Runs `cmd` through the remote user's shell. Never rejects for a non-zero exit. */
  ssh(cmd: string, opts?: SshOptions): Promise<SshResult>;
  /** Like ssh() but rejects (with stdout/stderr in the message) unless the command exits 0. */
  sshOk(cmd: string, opts?: SshOptions): Promise<string>;
  /** Streams a local file to remotePath (as the ssh user; use a path it can write, e.g. /tmp). */
  upload(localPath: string, remotePath: string): Promise<void>;
  /**
   * Persistent hosts only. Default: a power cycle — the guest powers off cleanly (SIGTERM to nspawn),
   * then boots again from the same disk. `{ inGuest: true }`: `sudo systemctl reboot` inside the guest
   * instead (nspawn exits with 133 and run-guest.sh boots the same disk again). Resolves once SSH
   * answers and systemd is "running" in the new boot.
   */
  reboot(opts?: { inGuest?: boolean }): Promise<void>;
  /** Powers off and removes everything (a persistent disk too, unless keepDisk). Idempotent. */
  stop(opts?: { keepDisk?: boolean }): Promise<void>;
}

interface HostFacts {
  name: string;
  host: string;
  port: number;
  user: string;
  privateKeyPath: string;
  hostKey: string;
  knownHostsPath: string;
  hostAddress: string;
  proxy: string;
  persistent: boolean;
  stateDir: string;
  pid: number;
  bootSeconds: number;
}

function findScriptsDir(): string {
  let dir = __dirname;
  for (;;) {
    const candidate = path.join(dir, "scripts", "testhost");
    if (fs.existsSync(path.join(candidate, "up.sh"))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`scripts/testhost/up.sh not found above ${__dirname}`);
    dir = parent;
  }
}

export const testHostScriptsDir = findScriptsDir();

/**
 * Whether this machine can run test hosts. They need Linux and root (systemd-nspawn, veth, debootstrap);
 * the scripts install the Debian packages they need themselves, so only a machine that is not Linux,
 * not root, or has no apt and no systemd-nspawn truly cannot.
 */
export function testHostPrerequisites(): { ok: true } | { ok: false; reason: string } {
  if (process.platform !== "linux") return { ok: false, reason: `test hosts need Linux (this is ${process.platform})` };
  if (typeof process.getuid !== "function" || process.getuid() !== 0) {
    return { ok: false, reason: "test hosts need root (systemd-nspawn, veth pairs, debootstrap)" };
  }
  const has = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
  if (!has("systemd-nspawn") && !has("apt-get")) {
    return { ok: false, reason: "test hosts need systemd-nspawn, or apt-get to install it" };
  }
  return { ok: true };
}

/**
 * `describe` for the slow suites that provision a real test host. They run wherever test hosts can exist;
 * QM_SKIP_HOST_E2E=1 skips them on purpose (a quick local run); under CI=true a machine that cannot run
 * them fails the run, naming what it lacks (tests/support/prerequisites.ts).
 */
export function describeOnTestHost(title: string, fn: () => void): void {
  describeWithPrerequisites(title, { prerequisites: testHostPrerequisites(), skipVariable: "QM_SKIP_HOST_E2E" }, fn);
}

function run(
  cmd: string,
  args: string[],
  opts: { timeoutMs: number; stdin?: string | Buffer | fs.ReadStream },
): Promise<SshResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [opts.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, opts.timeoutMs);
    child.stdout!.on("data", (b: Buffer) => out.push(b));
    child.stderr!.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({
        code: timedOut ? 124 : (code ?? 255),
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8") + (timedOut ? `\n[timed out after ${opts.timeoutMs} ms]` : ""),
      });
    });
    if (opts.stdin !== undefined) {
      child.stdin!.on("error", () => undefined); // the remote side may close early; its exit code tells
      if (opts.stdin instanceof fs.ReadStream) opts.stdin.pipe(child.stdin!);
      else child.stdin!.end(opts.stdin);
    }
  });
}

// Hosts this process started and has not stopped: torn down when the process exits, whatever happens.
const running = new Set<string>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const name of running) {
      spawnSync(path.join(testHostScriptsDir, "down.sh"), [name, "--purge"], { stdio: "ignore", timeout: 90_000 });
    }
  });
}

async function down(name: string, purge: boolean): Promise<void> {
  const r = await run(path.join(testHostScriptsDir, "down.sh"), purge ? [name, "--purge"] : [name], {
    timeoutMs: 120_000,
  });
  if (r.code !== 0) throw new Error(`down.sh ${name} failed (${r.code}):\n${r.stderr}`);
}

async function up(name: string, opts: TestHostOptions): Promise<HostFacts> {
  const args = [name];
  if (opts.persistent) args.push("--persistent");
  if (opts.subnet !== undefined) args.push("--subnet", String(opts.subnet));
  if (opts.bootTimeoutSeconds !== undefined) args.push("--timeout", String(opts.bootTimeoutSeconds));
  // The first call on a machine also builds the base (about a minute).
  const r = await run(path.join(testHostScriptsDir, "up.sh"), args, { timeoutMs: 15 * 60_000 });
  if (r.code !== 0) throw new Error(`up.sh ${args.join(" ")} failed (${r.code}):\n${r.stderr}`);
  const lines = r.stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]) as HostFacts;
}

/**
 * Boots a fresh test host named `name` (1-11 characters of a-z, 0-9, '-'; unique among concurrently
 * running tests). Leftovers of an earlier run under the same name are removed first. The caller must
 * stop() it (in afterAll/finally); hosts still running when the process exits are torn down then.
 */
export async function startTestHost(name: string, opts: TestHostOptions = {}): Promise<TestHost> {
  installExitHook();
  await down(name, true);
  running.add(name);
  let facts: HostFacts;
  try {
    facts = await up(name, opts);
  } catch (e) {
    running.delete(name);
    throw e;
  }
  const privateKey = fs.readFileSync(facts.privateKeyPath, "utf8");

  const sshArgs = (): string[] => [
    "-F", "/dev/null", // the machine's ~/.ssh/config and ssh_config play no part
    "-i", facts.privateKeyPath,
    "-o", "IdentitiesOnly=yes",
    "-o", "BatchMode=yes",
    "-o", "StrictHostKeyChecking=yes",
    "-o", `UserKnownHostsFile=${facts.knownHostsPath}`,
    "-o", "ConnectTimeout=10",
    "-o", "LogLevel=ERROR",
    "-p", String(facts.port),
    `${facts.user}@${facts.host}`,
  ];

  const ssh = (cmd: string, o: SshOptions = {}): Promise<SshResult> =>
    run("ssh", [...sshArgs(), "--", cmd], { timeoutMs: o.timeoutMs ?? 10 * 60_000, stdin: o.stdin });

  const host: TestHost = {
    name,
    host: facts.host,
    port: facts.port,
    user: facts.user,
    privateKey,
    privateKeyPath: facts.privateKeyPath,
    hostKey: facts.hostKey,
    knownHostsPath: facts.knownHostsPath,
    hostAddress: facts.hostAddress,
    proxy: facts.proxy,
    persistent: facts.persistent,
    stateDir: facts.stateDir,
    get pid() {
      return facts.pid;
    },
    ssh,
    async sshOk(cmd, o) {
      const r = await ssh(cmd, o);
      if (r.code !== 0) {
        throw new Error(`ssh ${facts.user}@${facts.host} '${cmd}' exited ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
      }
      return r.stdout;
    },
    async upload(localPath, remotePath) {
      const quoted = `'${remotePath.replace(/'/g, `'\\''`)}'`;
      const r = await run("ssh", [...sshArgs(), "--", `cat > ${quoted}`], {
        timeoutMs: 10 * 60_000,
        stdin: fs.createReadStream(localPath),
      });
      if (r.code !== 0) throw new Error(`upload of ${localPath} to ${remotePath} failed (${r.code}): ${r.stderr}`);
    },
    async reboot(o = {}) {
      if (!facts.persistent) throw new Error(`test host ${name} is ephemeral: start it with { persistent: true } to reboot it`);
      if (!o.inGuest) {
        await down(name, false);
        facts = await up(name, { ...opts, persistent: true });
        return;
      }
      // /run is the guest's tmpfs: the marker is gone once the new boot answers.
      const marker = "/run/testhost-reboot-pending";
      const r = await ssh(`sudo touch ${marker}`);
      if (r.code !== 0) throw new Error(`cannot reach ${name} before rebooting it: ${r.stderr}`);
      await ssh("sudo systemctl reboot", { timeoutMs: 30_000 }); // the connection drops: ignore its result
      const deadline = Date.now() + (opts.bootTimeoutSeconds ?? 180) * 1000;
      let last = "";
      while (Date.now() < deadline) {
        const b = await ssh(`test ! -e ${marker} && systemctl is-system-running --wait`, { timeoutMs: 60_000 });
        if (b.stdout.trim() === "running") return;
        last = `${b.code} ${b.stdout.trim()} ${b.stderr.trim()}`;
        await new Promise((res) => setTimeout(res, 500));
      }
      throw new Error(`test host ${name} did not come back from an in-guest reboot: ${last}`);
    },
    async stop(o = {}) {
      await down(name, !o.keepDisk);
      running.delete(name);
    },
  };
  return host;
}
