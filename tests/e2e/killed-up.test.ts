// Issue 15, through the user's real path: `bash scripts/pulumi.sh up` (the CLI, the Node.js language host,
// the dynamic providers) against the Quay API emulator in existing-registry mode, killed part-way with SIGKILL
// to its whole process group — early, mid and late, each after a fixed number of API writes seen by the
// emulator — then `bash scripts/pulumi.sh up` at most twice must converge on its own: exit 0, Quay holds
// exactly the model (no duplicate, nothing orphaned), no pending operation or lock is left, and a last `up`
// changes nothing and writes nothing. A SIGINT (what Ctrl-C sends) must converge too.
import { ChildProcess, execFile, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import { apiPath, QuayClient } from "../../providers/quay/client";
import { listNamespaceRepositories } from "../../providers/quay/listing";
import { orphanedRunProcesses, stackLocks } from "../../scripts/recover";
import { repoRoot, toolchain } from "../support/engine";
import { QuayFixture, startQuay } from "../support/quay";

jest.setTimeout(1_200_000);

const run = promisify(execFile);
const PASSPHRASE = "killed-up-e2e-passphrase-not-a-secret";
const STATE_DIR = path.join(repoRoot, ".pulumi-state");
const BULK = 100;
/** How the wrapper runs the engine: the CLI with the language host (default), or QM_ENGINE_VIA=inline (the Automation API). */
const VIA = process.env.QM_ENGINE_VIA === "inline" ? "inline" : "cli";

interface Model {
  organizations: { name: string }[];
  repositories: { organization: string; name: string }[];
  robots: { organization: string; name: string }[];
  teams: { organization: string; name: string; role: string; members?: string[] }[];
  clusterPullUser?: { username: string };
  [k: string]: unknown;
}

/** The lab's bootstrap model plus BULK repositories in `platform`: enough for an up to be mid-flight for a while. */
function bigModel(): Model {
  const model = JSON.parse(fs.readFileSync(path.join(repoRoot, "data/quay/bootstrap-model.json"), "utf8")) as Model;
  delete model.$schema;
  for (let i = 0; i < BULK; i++) model.repositories.push({ organization: "platform", name: `bulk/r${String(i).padStart(3, "0")}`, visibility: "private", description: "bulk" } as Model["repositories"][number]);
  return model;
}

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
}

function envFor(stack: string, settings: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, QM_STACK: stack, QM_STACK_CONFIG: settings, QM_ENGINE_VIA: VIA, PULUMI_CONFIG_PASSPHRASE: PASSPHRASE };
  delete env.PULUMI_CONFIG_PASSPHRASE_FILE;
  delete env.PULUMI_ACCESS_TOKEN;
  return env;
}

function wrapper(args: string[], env: NodeJS.ProcessEnv, stdin?: string): { child: ChildProcess; done: Promise<Outcome> } {
  // Its own process group, as a CI runner or a terminal starts it, so the whole group can be signalled.
  const child = spawn("bash", ["scripts/pulumi.sh", ...args], { cwd: repoRoot, env, detached: true, stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  child.stdin!.end(stdin ?? "");
  const done = new Promise<Outcome>((resolve) => child.on("close", (code, signal) => resolve({ code, signal, out })));
  return { child, done };
}

describe("a killed `bash scripts/pulumi.sh up` is recovered by the wrapper", () => {
  let quay: QuayFixture;
  let dir: string;
  const stacks: string[] = [];
  beforeAll(() => {
    toolchain();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "qm-killed-up-"));
    fs.writeFileSync(path.join(dir, "model.json"), JSON.stringify(bigModel()));
    expect(fs.existsSync(path.join(repoRoot, "bin/scripts/recover.js"))).toBe(true);
  });
  afterEach(async () => quay?.close());
  afterAll(async () => {
    // Leftovers of a failed case: processes of a killed run, the stacks, their config copies.
    for (const pid of orphanedRunProcesses(`file://${STATE_DIR}`)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    const env = { ...toolchain().env, PULUMI_BACKEND_URL: `file://${STATE_DIR}`, PULUMI_CONFIG_PASSPHRASE: PASSPHRASE };
    for (const stack of stacks) {
      for (const l of stackLocks(STATE_DIR, stack)) fs.rmSync(l.file, { force: true });
      await run(path.join(toolchain().binDir, "pulumi"), ["stack", "rm", "--stack", stack, "--force", "--yes", "--non-interactive"], { cwd: path.join(STATE_DIR, "project"), env }).catch(() => undefined);
      for (const f of [`config/Pulumi.${stack}.yaml`, `recover/${stack}.refresh`]) fs.rmSync(path.join(STATE_DIR, f), { force: true });
      // The Automation API's workspace (QM_ENGINE_VIA=inline) writes the stack's salt into Pulumi.<stack>.yaml at the root.
      fs.rmSync(path.join(repoRoot, `Pulumi.${stack}.yaml`), { force: true });
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Quay's objects of the model's organizations, as sorted lists (duplicates show as repeated entries). */
  async function live(admin: QuayClient, model: Model) {
    const orgs = (await admin.get<{ organizations: { name: string }[] }>("/api/v1/superuser/organizations/")).body.organizations.map((o) => o.name).sort();
    const repos: string[] = [];
    const robots: string[] = [];
    const prototypes: string[] = [];
    const teams: string[] = [];
    for (const { name: org } of model.organizations) {
      for (const r of await listNamespaceRepositories(admin, org, 0)) repos.push(r);
      for (const r of (await admin.get<{ robots: { name: string }[] }>(apiPath`/organization/${org}/robots`)).body.robots) robots.push(r.name);
      for (const p of (await admin.get<{ prototypes: { delegate: { kind: string; name: string }; role: string }[] }>(apiPath`/organization/${org}/prototypes`)).body.prototypes) {
        prototypes.push(`${org}: ${p.delegate.kind} ${p.delegate.name} ${p.role}`);
      }
      const body = (await admin.get<{ teams?: Record<string, { role: string }> }>(apiPath`/organization/${org}`)).body;
      for (const [team, t] of Object.entries(body.teams ?? {})) {
        if (team === "owners") continue;
        const members = (await admin.get<{ members: { name: string }[] }>(apiPath`/organization/${org}/team/${team}/members`)).body.members.map((m) => m.name).sort();
        teams.push(`${org}/${team} ${t.role} [${members.join(",")}]`);
      }
    }
    const users = (await admin.get<{ users: { username: string }[] }>("/api/v1/superuser/users/")).body.users.map((u) => u.username).sort();
    return { orgs, repos: repos.sort(), robots: robots.sort(), prototypes: prototypes.sort(), teams: teams.sort(), users };
  }

  async function exported(stack: string, settings: string) {
    const r = await run("bash", ["scripts/pulumi.sh", "stack", "export"], { cwd: repoRoot, env: envFor(stack, settings), maxBuffer: 256 * 1024 * 1024 });
    return JSON.parse(r.stdout) as { deployment: { resources: { type: string; id?: string; outputs?: Record<string, unknown> }[]; pending_operations?: unknown[] } };
  }

  // [what, signal, kill after this many API writes]. The model makes about 150 writes (5 organizations,
  // 7 default permissions, 5 robots, 2 teams, 108 repositories, grants, the pull user).
  const cases: [string, NodeJS.Signals, number][] = [
    ["early (organizations, default permissions, robots)", "SIGKILL", 8],
    ["mid (repositories)", "SIGKILL", 60],
    ["late (the last repositories and grants)", "SIGKILL", 125],
    ["Ctrl-C mid-way", "SIGINT", 60],
  ];

  test.each(cases)("%s: %s after %d writes, then up (at most twice) converges and a last up writes nothing", async (_what, signal, afterWrites) => {
    const t0 = Date.now();
    quay = await startQuay();
    const stack = `killed-up-${process.pid}-${stacks.length}`;
    stacks.push(stack);
    const settings = path.join(dir, `${stack}.yaml`);
    fs.writeFileSync(
      settings,
      `config:\n  quay-mirror:mode: existing\n  quay-mirror:apiUrl: ${quay.emulator.url}\n  quay-mirror:registryHostname: quay.example.com\n  quay-mirror:modelFile: ${path.join(dir, "model.json")}\n`,
    );
    const env = envFor(stack, settings);
    const set = await wrapper(["config", "set", "--secret", "quay:token"], env, quay.connection.token).done;
    expect(set.code).toBe(0);

    // The run to interrupt.
    quay.emulator.counter.reset();
    const first = wrapper(["up", "--yes"], env);
    let signalled = false;
    const watch = setInterval(() => {
      if (!signalled && quay.emulator.counter.writes() >= afterWrites) {
        signalled = true;
        // SIGKILL: the whole process group (a cancelled CI job, a closed terminal). SIGINT: the CLI, as Ctrl-C does.
        process.kill(signal === "SIGKILL" ? -first.child.pid! : first.child.pid!, signal);
      }
    }, 5);
    const killed = await first.done;
    clearInterval(watch);
    expect(signalled).toBe(true);
    const writesAtKill = quay.emulator.counter.writes();
    if (signal === "SIGKILL") expect(killed.signal).toBe("SIGKILL");
    else expect(killed.code).not.toBe(0);

    // What the killed run left (read only: `stack export` does not recover anything).
    const left = ((await exported(stack, settings)).deployment.pending_operations ?? []) as { type: string; resource: { type: string } }[];
    const leftKinds = left.map((o) => `${o.type} ${o.resource.type.split(":").pop()}`);
    if (signal === "SIGKILL") expect(leftKinds.filter((k) => k.startsWith("creating ")).length).toBeGreaterThan(0);

    // Recovery: nothing but `up`, at most twice.
    const model = JSON.parse(fs.readFileSync(path.join(dir, "model.json"), "utf8")) as Model;
    let recovered: Outcome | undefined;
    const said: string[] = [];
    for (let attempt = 0; attempt < 2; attempt++) {
      recovered = await wrapper(["up", "--yes"], env).done;
      said.push(recovered.out);
      if (recovered.code === 0) break;
    }
    try {
      expect(recovered!.code).toBe(0);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n--- killed run:\n${killed.out.slice(-3000)}\n--- recovery:\n${said.join("\n---\n").slice(-8000)}`);
    }
    if (signal === "SIGKILL") {
      // What the wrapper did, in words: the lock, then each pending create recorded as the stack's own.
      expect(said[0]).toMatch(/removed the lock of a run that is gone \(pid \d+ on /);
      expect(said[0]).toMatch(new RegExp(`the last run was killed with ${left.length} operation\\(s\\) in flight`));
      expect(said[0]).toMatch(/pending create of quay:\w+ \S+: recorded as this stack's own \(id [^)]+\); the refresh reads whether it exists/);
      expect(said[0]).not.toMatch(/already exists in Quay|adoptExisting/);
    }

    // No lock, no pending operation, and Quay holds exactly the model.
    expect(stackLocks(STATE_DIR, stack)).toEqual([]);
    const state = await exported(stack, settings);
    expect(state.deployment.pending_operations ?? []).toEqual([]);
    const got = await live(quay.admin, model);
    expect(got.orgs).toEqual(model.organizations.map((o) => o.name).sort());
    expect(got.repos).toEqual(model.repositories.map((r) => `${r.organization}/${r.name}`).sort());
    expect(got.robots).toEqual(model.robots.map((r) => `${r.organization}+${r.name}`).sort());
    expect(got.teams.map((t) => t.split(" ")[0])).toEqual(model.teams.map((t) => `${t.organization}/${t.name}`).sort());
    expect(got.users).toEqual(["ocp_cluster_pull", "quayadmin"]);
    // Default permissions: one per declared DefaultPermission, none twice.
    const declared = state.deployment.resources.filter((r) => r.type.endsWith("quay:DefaultPermission")).map((r) => `${String(r.outputs!.organization)}: ${r.outputs!.delegateKind === "team" ? "team" : "user"} ${String(r.outputs!.delegateName)} ${String(r.outputs!.role)}`);
    expect(got.prototypes).toEqual(declared.sort());
    expect(new Set(got.prototypes).size).toBe(got.prototypes.length);
    // Every robot in the state holds its token (read from Quay for one whose create was pending).
    for (const r of state.deployment.resources.filter((r) => r.type.endsWith("quay:RobotAccount"))) {
      expect(r.outputs!.token).toBeDefined();
      expect(r.outputs!.fullName).toBe(r.id);
    }

    // Converged: the next up changes nothing and writes nothing.
    quay.emulator.counter.reset();
    const last = await wrapper(["up", "--yes"], env).done;
    expect(last.code).toBe(0);
    expect(last.out).not.toMatch(/\d+ (to create|to update|to delete|to replace|created|updated|deleted|replaced)/);
    expect(last.out).toMatch(/\d+ unchanged/);
    expect(quay.emulator.counter.writes()).toBe(0);
    const stopped = /stopping (\d+) leftover process/.exec(said[0] ?? "")?.[1] ?? "0";
    process.stderr.write(
      `killed-up ${signal} after ${afterWrites} writes (${writesAtKill} when it stopped; left pending: ${leftKinds.join(", ") || "none"}; ` +
        `leftover processes stopped: ${stopped}; ups to converge: ${said.length}): ${Math.round((Date.now() - t0) / 1000)} s\n`,
    );
  });
});
