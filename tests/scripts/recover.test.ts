// scripts/recover.ts, the pure parts: what a killed run's pending operations become, and which locks are
// stale. (tests/e2e/killed-up.test.ts proves the whole recovery through the real engine.)
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ExportedState, checkLocks, judgeLock, orphanedRunProcesses, planRecovery, stackLocks } from "../../scripts/recover";

const urn = (type: string, name: string) => `urn:pulumi:lab::quay-mirror::quay-mirror:index:MirrorRegistry$${type}::${name}`;
const secret = { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", ciphertext: "v1:abc" };

function state(pending: { type: string; resource: Record<string, unknown> }[]): ExportedState {
  return {
    version: 3,
    deployment: {
      manifest: {},
      resources: [
        { urn: "urn:pulumi:lab::quay-mirror::pulumi:pulumi:Stack::quay-mirror-lab", type: "pulumi:pulumi:Stack", custom: false },
        { urn: urn("pulumi-nodejs:dynamic/quay:Organization", "org-platform"), type: "pulumi-nodejs:dynamic/quay:Organization", id: "platform", custom: true, inputs: { name: "platform" }, outputs: { name: "platform" } },
      ],
      pending_operations: pending as never,
    },
  };
}

describe("planRecovery", () => {
  test("nothing pending: nothing to import", () => {
    const s = state([]);
    delete s.deployment.pending_operations;
    expect(planRecovery(s)).toEqual({ refresh: [], notes: [] });
    expect(planRecovery(state([]))).toEqual({ refresh: [], notes: [] });
  });

  test("pending creates with a deterministic id become resources to refresh; re-runnable kinds are dropped; updates and deletes are refreshed", () => {
    const repo = urn("pulumi-nodejs:dynamic/quay:Repository", "repo-platform/smoke");
    const robot = urn("pulumi-nodejs:dynamic/quay:RobotAccount", "robot-platform+ci");
    const user = urn("pulumi-nodejs:dynamic/quay:User", "pull-user");
    const cmd = urn("command:remote:Command", "host-install");
    const random = urn("pulumi-nodejs:dynamic/local:RandomSecret", "pull-password");
    const unknown = urn("example:index:Thing", "thing");
    const org = urn("pulumi-nodejs:dynamic/quay:Organization", "org-platform");
    const input = state([
      { type: "creating", resource: { urn: repo, type: "pulumi-nodejs:dynamic/quay:Repository", custom: true, inputs: { __provider: "p", connection: secret, namespace: "platform", name: "smoke", visibility: "private" } } },
      { type: "creating", resource: { urn: robot, type: "pulumi-nodejs:dynamic/quay:RobotAccount", custom: true, inputs: { connection: secret, namespace: "platform", name: "ci" } } },
      { type: "creating", resource: { urn: user, type: "pulumi-nodejs:dynamic/quay:User", custom: true, inputs: { connection: secret, username: "ocp_pull", password: secret } } },
      { type: "creating", resource: { urn: cmd, type: "command:remote:Command", custom: true, inputs: { create: "install" } } },
      { type: "creating", resource: { urn: random, type: "pulumi-nodejs:dynamic/local:RandomSecret", custom: true, inputs: { length: 40 } } },
      { type: "creating", resource: { urn: unknown, type: "example:index:Thing", custom: true, inputs: {} } },
      { type: "updating", resource: { urn: org, type: "pulumi-nodejs:dynamic/quay:Organization", custom: true, id: "platform", inputs: { name: "platform" } } },
    ]);
    const before = JSON.stringify(input);
    const plan = planRecovery(input);
    expect(JSON.stringify(input)).toBe(before); // the input is not modified

    const resources = plan.state!.deployment.resources!;
    const byUrn = (u: string) => resources.find((r) => r.urn === u);
    expect(byUrn(repo)).toMatchObject({ id: "platform/smoke", custom: true, outputs: { __provider: "p", namespace: "platform", name: "smoke" } });
    expect(byUrn(robot)).toMatchObject({ id: "platform+ci", outputs: { fullName: "platform+ci" } });
    // A password never reaches the outputs; its hash is left empty, so the next up sets the password again.
    expect(byUrn(user)!.outputs).toEqual({ connection: secret, username: "ocp_pull", passwordHash: "" });
    expect(byUrn(cmd)).toBeUndefined();
    expect(byUrn(random)).toBeUndefined();
    // Imported resources come after what they depend on (appended), the existing ones keep their place.
    expect(resources.slice(0, 2).map((r) => r.type)).toEqual(["pulumi:pulumi:Stack", "pulumi-nodejs:dynamic/quay:Organization"]);

    expect(plan.refresh).toEqual([repo, robot, user, org]);
    // Only the kind nobody knows stays pending: the engine's own message then applies.
    expect(plan.state!.deployment.pending_operations).toEqual([{ type: "creating", resource: { urn: unknown, type: "example:index:Thing", custom: true, inputs: {} } }]);
    expect(plan.notes.join("\n")).toMatch(/pending create of quay:Repository repo-platform\/smoke: recorded as this stack's own \(id platform\/smoke\)/);
    expect(plan.notes.join("\n")).toMatch(/pending create of command:remote:Command host-install: dropped — a host step: up runs it again/);
    expect(plan.notes.join("\n")).toMatch(/pending update of quay:Organization org-platform: dropped; the refresh reads its live state/);
  });

  test("without anything left pending, the imported state has no pending_operations at all", () => {
    const repo = urn("pulumi-nodejs:dynamic/quay:Repository", "repo-platform/smoke");
    const plan = planRecovery(state([{ type: "creating", resource: { urn: repo, type: "pulumi-nodejs:dynamic/quay:Repository", inputs: { namespace: "platform", name: "smoke" } } }]));
    expect(plan.state!.deployment).not.toHaveProperty("pending_operations");
  });

  test("a pending create whose inputs cannot give an id stops with the resource named", () => {
    const repo = urn("pulumi-nodejs:dynamic/quay:Repository", "repo-x");
    expect(() => planRecovery(state([{ type: "creating", resource: { urn: repo, type: "pulumi-nodejs:dynamic/quay:Repository", inputs: { namespace: secret, name: "x" } } }]))).toThrow(
      /pending create of quay:Repository repo-x: input "namespace" is not a plain string/,
    );
  });
});

describe("locks", () => {
  test("stale only when the pid is dead on this host; a live one or another host's is never stale", () => {
    const dead = () => false;
    const alive = () => true;
    expect(judgeLock({ file: "f", pid: 42, hostname: "vm" }, "vm", dead)).toBe("stale");
    expect(judgeLock({ file: "f", pid: 42, hostname: "vm" }, "vm", alive)).toBe("live");
    expect(judgeLock({ file: "f", pid: 42, hostname: "ci-runner-7" }, "vm", dead)).toBe("foreign");
    expect(judgeLock({ file: "f" }, "vm", dead)).toBe("foreign"); // unreadable: never removed
    // This process is alive but is no `pulumi` CLI: a reused pid, so the lock's holder is gone.
    expect(judgeLock({ file: "f", pid: process.pid, hostname: os.hostname() })).toBe("stale");
  });

  test("finds the stack's lock files in the file backend's layout", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "qm-locks-"));
    try {
      const locks = path.join(dir, ".pulumi", "locks", "organization", "quay-mirror");
      fs.mkdirSync(path.join(locks, "lab"), { recursive: true });
      fs.mkdirSync(path.join(locks, "other"), { recursive: true });
      fs.writeFileSync(path.join(locks, "lab", "u1.json"), JSON.stringify({ pid: 7, username: "root", hostname: "vm", timestamp: "t" }));
      fs.writeFileSync(path.join(locks, "lab", "u1.json.attrs"), "{}");
      fs.writeFileSync(path.join(locks, "other", "u2.json"), JSON.stringify({ pid: 8, hostname: "vm" }));
      expect(stackLocks(dir, "lab")).toEqual([{ file: path.join(locks, "lab", "u1.json"), pid: 7, hostname: "vm", username: "root", timestamp: "t" }]);
      expect(stackLocks(dir, "none")).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("checkLocks (what the wrapper runs before up/refresh/destroy)", () => {
  let dir: string;
  let lockDir: string;
  let stderr: string;
  let spy: jest.SpyInstance;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "qm-locks-"));
    lockDir = path.join(dir, ".pulumi", "locks", "organization", "quay-mirror", "lab");
    fs.mkdirSync(lockDir, { recursive: true });
    stderr = "";
    spy = jest.spyOn(process.stderr, "write").mockImplementation((s: string | Uint8Array) => {
      stderr += String(s);
      return true;
    });
  });
  afterEach(() => {
    spy.mockRestore();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const lock = (info: Record<string, unknown>) => {
    const file = path.join(lockDir, "1b7e.json");
    fs.writeFileSync(file, JSON.stringify({ username: "root", timestamp: "2026-12-07T04:20:29Z", ...info }));
    fs.writeFileSync(`${file}.attrs`, "{}");
    return file;
  };

  test("a dead pulumi's lock on this host is removed, and said so", async () => {
    const file = lock({ pid: 2 ** 22 + 12345, hostname: os.hostname() });
    expect(await checkLocks(dir, "lab")).toBe(0);
    expect(fs.existsSync(file)).toBe(false);
    expect(fs.existsSync(`${file}.attrs`)).toBe(false);
    expect(stderr).toMatch(/removed the lock of a run that is gone \(pid 4206649 on /);
  });

  test("a live pulumi's lock is never touched", async () => {
    // A live process named `pulumi` (comm is the file name): a stand-in for a running CLI.
    const bin = path.join(dir, "pulumi");
    fs.symlinkSync("/bin/sleep", bin);
    const child = spawn(bin, ["30"], { stdio: "ignore" });
    try {
      await new Promise((r) => setTimeout(r, 300));
      const file = lock({ pid: child.pid, hostname: os.hostname() });
      expect(await checkLocks(dir, "lab")).toBe(3);
      expect(fs.existsSync(file)).toBe(true);
      expect(stderr).toMatch(new RegExp(`stack lab is in use: a pulumi run holds its lock \\(pid ${child.pid} on .*\\)\\. Wait for it to finish; nothing was changed\\.`));
    } finally {
      child.kill("SIGKILL");
    }
  });

  test("another host's lock stops with the one command to run", async () => {
    const file = lock({ pid: 1, hostname: "ci-runner-7" });
    expect(await checkLocks(dir, "lab")).toBe(3);
    expect(fs.existsSync(file)).toBe(true);
    expect(stderr).toMatch(/stack lab is locked by a run on another host \(pid 1 on ci-runner-7 \(root\) since .*\)\. If no run is going on there any more, release it with: QM_STACK=lab bash scripts\/pulumi\.sh cancel --yes/);
  });
});

describe("the leftover processes of a killed run", () => {
  test("are the engine's plugin processes with the stack's backend and no pulumi above them — never a shell that merely has the backend in its environment", async () => {
    const backend = `file:///tmp/qm-recover-test-${process.pid}`;
    const env = { ...process.env, PULUMI_BACKEND_URL: backend };
    // A shell of another wrapper run (or a terminal that sourced the stack's settings), and a process whose
    // command line is a Node.js dynamic provider's, both outside any pulumi CLI.
    const shell = spawn("bash", ["-c", "sleep 30"], { env, stdio: "ignore", detached: true });
    const provider = spawn(process.execPath, ["-e", "setTimeout(() => {}, 30000)", "node_modules/@pulumi/pulumi/cmd/dynamic-provider"], { env, stdio: "ignore", detached: true });
    try {
      await new Promise((r) => setTimeout(r, 300));
      const found = orphanedRunProcesses(backend);
      expect(found).toContain(provider.pid);
      expect(found).not.toContain(shell.pid);
      expect(orphanedRunProcesses(`${backend}-other`)).toEqual([]);
    } finally {
      for (const c of [shell, provider]) process.kill(-c.pid!, "SIGKILL");
    }
  });
});
