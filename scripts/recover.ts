// Recovery after a killed run (README, "A run was killed"), used by scripts/pulumi.sh through qm_recover_killed_run
// (scripts/lib-stack.sh) before preview/up/refresh/destroy. Compiled to bin/scripts/recover.js.
//
//   node bin/scripts/recover.js locks <state dir> <stack>
//       The file backend's locks of the stack (<state dir>/.pulumi/locks/…/<stack>/<uuid>.json, each naming
//       the pid and host of the `pulumi` that took it). A lock of a process that is dead on this host is
//       removed (after waiting for the killed run's provider processes to finish their last call); a live
//       one is never touched: exit 3 naming the process. A lock from another host: exit 3 with the one
//       command to run once nothing runs there (`bash scripts/pulumi.sh cancel --yes`).
//   node bin/scripts/recover.js plan <exported state> <state to import> <targets file>
//       Reads `pulumi stack export`. When it holds pending operations, writes the state to import and the
//       URNs to refresh (one a line): each pending create whose id follows from its inputs
//       (providers/pending-create.ts) becomes a resource of this stack with that id (the refresh's read then
//       says whether it exists and fills its outputs, or drops it so `up` creates it); a pending create of a
//       re-runnable kind (a host command, a random value) is dropped so `up` runs it again; a pending update or
//       delete is dropped (the engine drops them too) and its resource refreshed. Writes nothing when there is
//       nothing pending. Prints what it did.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { RERUN_KINDS, pendingCreateIdentity } from "../providers/pending-create";

interface StateResource {
  urn: string;
  type: string;
  id?: string;
  custom?: boolean;
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
  [k: string]: unknown;
}
interface PendingOperation {
  resource: StateResource;
  type: string;
}
export interface ExportedState {
  version: number;
  deployment: { resources?: StateResource[]; pending_operations?: PendingOperation[]; [k: string]: unknown };
}

export interface RecoveryPlan {
  /** The state to import, or undefined when nothing is pending. */
  state?: ExportedState;
  /** URNs to refresh after the import: imported pending creates and resources of pending updates/deletes. */
  refresh: string[];
  /** One line per pending operation: what was done with it. */
  notes: string[];
}

const shortName = (urn: string) => urn.slice(urn.lastIndexOf("::") + 2);
const shortType = (type: string) => type.replace(/^pulumi-nodejs:dynamic\//, "");

/** What to do with the pending operations of an exported state (pure: the input is not modified). */
export function planRecovery(exported: ExportedState): RecoveryPlan {
  const pending = exported.deployment.pending_operations ?? [];
  if (pending.length === 0) return { refresh: [], notes: [] };
  const state = JSON.parse(JSON.stringify(exported)) as ExportedState;
  const resources = state.deployment.resources ?? [];
  const inState = new Set(resources.map((r) => r.urn));
  const refresh: string[] = [];
  const notes: string[] = [];
  const kept: PendingOperation[] = [];
  for (const op of pending) {
    const r = op.resource;
    const what = `${shortType(r.type)} ${shortName(r.urn)}`;
    if (op.type === "creating") {
      let identity;
      try {
        identity = pendingCreateIdentity(r.type, r.inputs ?? {});
      } catch (e) {
        throw new Error(`pending create of ${what}: ${(e as Error).message}`);
      }
      if (identity) {
        if (inState.has(r.urn)) {
          // Cannot happen for a create; never record a URN twice.
          notes.push(`pending create of ${what}: already in the state, dropped`);
          continue;
        }
        resources.push({ ...r, id: identity.id, outputs: identity.outputs });
        inState.add(r.urn);
        refresh.push(r.urn);
        notes.push(`pending create of ${what}: recorded as this stack's own (id ${identity.id}); the refresh reads whether it exists`);
      } else if (RERUN_KINDS[r.type] !== undefined) {
        notes.push(`pending create of ${what}: dropped — ${RERUN_KINDS[r.type]}`);
      } else {
        // A kind nobody taught us: keep it pending; the engine's own message then says what to do.
        kept.push(op);
        notes.push(`pending create of ${what}: kind without a known id, left pending (see \`pulumi refresh --help\`, --import-pending-creates)`);
      }
    } else {
      // updating, deleting, reading, importing: the engine drops these at the next run; the object's live
      // state is read again instead.
      if (inState.has(r.urn) && !refresh.includes(r.urn)) refresh.push(r.urn);
      notes.push(`pending ${op.type.replace(/ing$/, "e")} of ${what}: dropped; ${inState.has(r.urn) ? "the refresh reads its live state" : "not in the state"}`);
    }
  }
  state.deployment.resources = resources;
  if (kept.length > 0) state.deployment.pending_operations = kept;
  else delete state.deployment.pending_operations;
  return { state, refresh, notes };
}

// ---- locks ---------------------------------------------------------------------------------------------

export interface LockInfo {
  file: string;
  pid?: number;
  hostname?: string;
  username?: string;
  timestamp?: string;
}

/** Lock files of a stack in a file backend (project-scoped and legacy layouts). */
export function stackLocks(stateDir: string, stack: string): LockInfo[] {
  const root = path.join(stateDir, ".pulumi", "locks");
  const found: LockInfo[] = [];
  const walk = (dir: string, depth: number) => {
    if (depth > 4 || !fs.existsSync(dir)) return;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name === stack) {
          for (const f of fs.readdirSync(p)) {
            if (!f.endsWith(".json")) continue;
            const file = path.join(p, f);
            let info: Partial<LockInfo> = {};
            try {
              info = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<LockInfo>;
            } catch {
              // unreadable: treated as foreign below (never removed)
            }
            found.push({ file, pid: info.pid, hostname: info.hostname, username: info.username, timestamp: info.timestamp });
          }
        } else walk(p, depth + 1);
      }
    }
  };
  walk(root, 0);
  return found;
}

export type LockVerdict = "stale" | "live" | "foreign";

export function judgeLock(lock: LockInfo, host = os.hostname(), alive = (pid: number) => pidAlive(pid) && isPulumiCli(pid)): LockVerdict {
  if (lock.hostname === undefined || typeof lock.pid !== "number") return "foreign";
  if (lock.hostname !== host) return "foreign";
  return alive(lock.pid) ? "live" : "stale";
}

/** Whether a live process is (still) the `pulumi` CLI that took a lock: a pid can be reused after a kill. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  return true;
}

export function isPulumiCli(pid: number): boolean {
  const comm = procRead(String(pid), "comm");
  // Without /proc we cannot tell: assume it is.
  return comm === undefined ? fs.existsSync("/proc") === false || pidAlive(pid) : comm.trim() === "pulumi";
}

function procRead(pid: string, file: string): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/${file}`, "utf8");
  } catch {
    return undefined;
  }
}

function parentOf(pid: string): string | undefined {
  const stat = procRead(pid, "stat");
  if (!stat) return undefined;
  // pid (comm) state ppid …: comm may hold spaces and parentheses, so split after the last ')'.
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1];
}

/**
 * Processes of a killed run still going on this backend: they have its PULUMI_BACKEND_URL in their
 * environment and no live `pulumi` CLI above them (a provider or language host whose CLI was killed keeps
 * its last call going for a moment). Not this process or its ancestors.
 */
export function orphanedRunProcesses(backendUrl: string): number[] {
  if (!fs.existsSync("/proc")) return [];
  const mine = new Set<string>();
  for (let p: string | undefined = String(process.pid); p && p !== "0"; p = parentOf(p)) {
    mine.add(p);
    if (p === "1") break;
  }
  const orphans: number[] = [];
  for (const pid of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    if (mine.has(pid)) continue;
    const env = procRead(pid, "environ");
    if (!env || !env.split("\0").includes(`PULUMI_BACKEND_URL=${backendUrl}`)) continue;
    let underCli = false;
    for (let p = parentOf(pid); p && p !== "0" && p !== "1"; p = parentOf(p)) {
      if ((procRead(p, "comm") ?? "").trim() === "pulumi") {
        underCli = true;
        break;
      }
    }
    if ((procRead(pid, "comm") ?? "").trim() === "pulumi") underCli = true;
    // Only the engine's own plugin processes (a language host, a resource plugin, the Node.js program or
    // dynamic provider they run) or their children: never a shell that merely has the backend in its
    // environment, such as another wrapper run's bash or a terminal that sourced the stack's settings.
    if (!underCli && underPlugin(pid)) orphans.push(Number(pid));
  }
  return orphans;
}

/** The command lines of the engine's plugins and of the Node.js processes they start. */
const PLUGIN_COMMAND = /(^|\/)pulumi-(language|resource|analyzer)-|@pulumi\/pulumi\/cmd\/(run|dynamic-provider)/;

/** Whether this process or one of its ancestors is one of the engine's plugin processes. */
function underPlugin(pid: string): boolean {
  for (let p: string | undefined = pid; p && p !== "0" && p !== "1"; p = parentOf(p)) {
    if (PLUGIN_COMMAND.test((procRead(p, "cmdline") ?? "").split("\0").join(" "))) return true;
  }
  return false;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function checkLocks(stateDir: string, stack: string): Promise<number> {
  const locks = stackLocks(stateDir, stack);
  if (locks.length === 0) return 0;
  const say = (s: string) => process.stderr.write(`${s}\n`);
  const describe = (l: LockInfo) => `pid ${l.pid ?? "?"} on ${l.hostname ?? "?"}${l.username ? ` (${l.username})` : ""}${l.timestamp ? ` since ${l.timestamp}` : ""}`;
  const verdicts = locks.map((l) => ({ lock: l, verdict: judgeLock(l) }));
  const live = verdicts.filter((v) => v.verdict === "live");
  if (live.length > 0) {
    say(`stack ${stack} is in use: a pulumi run holds its lock (${live.map((v) => describe(v.lock)).join("; ")}). Wait for it to finish; nothing was changed.`);
    return 3;
  }
  const foreign = verdicts.filter((v) => v.verdict === "foreign");
  if (foreign.length > 0) {
    say(
      `stack ${stack} is locked by a run on another host (${foreign.map((v) => describe(v.lock)).join("; ")}). ` +
        `If no run is going on there any more, release it with: QM_STACK=${stack} bash scripts/pulumi.sh cancel --yes`,
    );
    return 3;
  }
  // Only stale locks: the run was killed. Its language host and providers were started in process groups of
  // their own, so they outlive it, idle forever once their last call is done, and could still be sending one:
  // stop them before anything reads Quay again.
  const backendUrl = `file://${stateDir}`;
  let orphans = orphanedRunProcesses(backendUrl);
  if (orphans.length > 0) {
    say(`stopping ${orphans.length} leftover process(es) of the killed run (pid ${orphans.join(", ")}: its language host and providers)`);
    for (const pid of orphans) signal(pid, "SIGTERM");
    for (let waited = 0; waited < 5000 && orphans.some(pidAlive); waited += 200) await sleep(200);
    for (const pid of orphans.filter(pidAlive)) signal(pid, "SIGKILL");
    // A request they sent just before may still be in Quay's hands.
    await sleep(2000);
    orphans = orphans.filter(pidAlive);
    if (orphans.length > 0) {
      say(`leftover processes of the killed run did not stop (pid ${orphans.join(", ")}): stop them, then run the command again`);
      return 3;
    }
  }
  for (const { lock } of verdicts) {
    fs.rmSync(lock.file, { force: true });
    fs.rmSync(`${lock.file}.attrs`, { force: true });
    say(`removed the lock of a run that is gone (${describe(lock)}): it was killed before it could release it`);
  }
  return 0;
}

function plan(exportedFile: string, importFile: string, targetsFile: string): number {
  const exported = JSON.parse(fs.readFileSync(exportedFile, "utf8")) as ExportedState;
  const result = planRecovery(exported);
  fs.rmSync(importFile, { force: true });
  fs.rmSync(targetsFile, { force: true });
  if (!result.state) return 0;
  process.stderr.write(`the last run was killed with ${exported.deployment.pending_operations?.length} operation(s) in flight:\n`);
  for (const n of result.notes) process.stderr.write(`  - ${n}\n`);
  fs.writeFileSync(targetsFile, result.refresh.map((u) => `${u}\n`).join(""));
  fs.writeFileSync(importFile, JSON.stringify(result.state));
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...args] = argv;
  if (cmd === "locks" && args.length === 2) return checkLocks(path.resolve(args[0]!), args[1]!);
  if (cmd === "plan" && args.length === 3) return plan(args[0]!, args[1]!, args[2]!);
  process.stderr.write("usage: recover.js locks <state dir> <stack> | plan <exported> <to import> <targets file>\n");
  return 2;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: Error) => {
      process.stderr.write(`recover: ${e.message}\n`);
      process.exit(1);
    },
  );
}

