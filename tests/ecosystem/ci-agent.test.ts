// Issue 14 point 6: the SSH key reaches only the gated up job, and there only an ssh-agent. scripts/ci-stack.sh
// start-agent starts one at the stack's quay-mirror:host.connection.agentSocketPath and gives it the key in
// $QM_SSH_PRIVATE_KEY on stdin (`ssh-add -`); stop-agent kills it. Run for real here (OpenSSH's ssh-agent and
// ssh-add), with an ssh-add wrapper first on PATH that records its command line and its standard input.
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { repoRoot } from "../support/engine";

const SSH_ADD = ["/usr/bin/ssh-add", "/bin/ssh-add"].find((p) => fs.existsSync(p));

(SSH_ADD ? describe : describe.skip)("scripts/ci-stack.sh start-agent / stop-agent", () => {
  let tmp: string;
  let sock: string;
  let key: string;
  let fingerprint: string;
  let env: Record<string, string>;
  const ciStack = (args: string[], extra: Record<string, string> = {}) =>
    spawnSync("bash", [path.join(repoRoot, "scripts", "ci-stack.sh"), ...args], { cwd: repoRoot, env: { ...env, ...extra }, encoding: "utf8" });
  const listKeys = () => spawnSync(SSH_ADD!, ["-l"], { env: { ...process.env, SSH_AUTH_SOCK: sock }, encoding: "utf8" });
  const stackFile = (host: unknown) => {
    const f = path.join(tmp, `Pulumi.${Math.random().toString(36).slice(2)}.yaml`);
    fs.writeFileSync(f, JSON.stringify({ config: { "quay-mirror:mode": "full", ...(host === undefined ? {} : { "quay-mirror:host": host }) } }));
    return f;
  };

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "qm-agent-"));
    fs.mkdirSync(path.join(tmp, "run"), { mode: 0o700 });
    sock = path.join(tmp, "run", "ssh-agent.sock");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "qm-agent-test", "-f", path.join(tmp, "key")]);
    key = fs.readFileSync(path.join(tmp, "key"), "utf8");
    fingerprint = execFileSync("ssh-keygen", ["-lf", path.join(tmp, "key.pub")], { encoding: "utf8" }).split(" ")[1]!;
    // The wrapper: its arguments to one log, its standard input (when it reads one) to another.
    const shim = path.join(tmp, "shim");
    fs.mkdirSync(shim);
    fs.writeFileSync(
      path.join(shim, "ssh-add"),
      [
        "#!/bin/bash",
        'printf "%s\\n" "$*" >>"$QM_TEST_ARGV_LOG"',
        // what reached ssh-add's environment (the key must not)
        'env >>"$QM_TEST_ARGV_LOG"',
        'for a in "$@"; do',
        '  if [ "$a" = - ]; then in="$(cat)"; printf "%s\\n" "$in" >>"$QM_TEST_STDIN_LOG"; printf "%s\\n" "$in" | ' + SSH_ADD + ' "$@"; exit "$?"; fi',
        "done",
        `exec ${SSH_ADD} "$@"`,
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
    env = {
      ...(process.env as Record<string, string>),
      PATH: `${shim}:${process.env.PATH}`,
      QM_TEST_ARGV_LOG: path.join(tmp, "argv.log"),
      QM_TEST_STDIN_LOG: path.join(tmp, "stdin.log"),
      QM_STACK_CONFIG: stackFile({ connection: { host: "quay.example", agentSocketPath: sock } }),
    };
    delete env.SSH_AUTH_SOCK;
  });

  afterAll(() => {
    ciStack(["stop-agent", "lab"]);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test("start-agent: an agent at agentSocketPath holds the key, which ssh-add got on stdin and never on its command line; stop-agent kills it", () => {
    const started = ciStack(["start-agent", "lab"], { QM_SSH_PRIVATE_KEY: key });
    expect({ code: started.status, err: started.stderr }).toEqual({ code: 0, err: expect.stringContaining(`at ${sock} holds ${fingerprint}`) });
    const listed = listKeys();
    expect(listed.status).toBe(0);
    expect(listed.stdout).toContain(fingerprint);
    // ssh-add's command lines: never the key; its standard input: the key.
    const body = key.split("\n")[3]!; // a line of the private part (the first lines are the same for every ed25519 key)
    const argv = fs.readFileSync(env.QM_TEST_ARGV_LOG, "utf8");
    expect(argv).toMatch(/^-q -t [0-9]+ -$/m);
    expect(argv).not.toContain(body);
    expect(argv).not.toContain("PRIVATE KEY");
    expect(fs.readFileSync(env.QM_TEST_STDIN_LOG, "utf8")).toContain(body);
    expect(started.stdout + started.stderr).not.toContain(body);
    // No file holds the key: the agent's directory has its socket and pid file only.
    expect(fs.readdirSync(path.join(tmp, "run")).sort()).toEqual(["ssh-agent.sock", "ssh-agent.sock.pid"]);
    const pid = Number(fs.readFileSync(`${sock}.pid`, "utf8"));
    expect(fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim()).toBe("ssh-agent");
    // The agent outlives the step: the key is not in its environment either.
    const agentEnv = fs.readFileSync(`/proc/${pid}/environ`, "utf8");
    expect(agentEnv).not.toContain("QM_SSH_PRIVATE_KEY");
    expect(agentEnv).not.toContain(body);

    // A second start while it runs is refused (never two jobs on one agent).
    const again = ciStack(["start-agent", "lab"], { QM_SSH_PRIVATE_KEY: key });
    expect(again.status).toBe(1);
    expect(again.stderr).toContain(`an SSH agent already listens at ${sock}`);

    const stopped = ciStack(["stop-agent", "lab"]);
    expect({ code: stopped.status, err: stopped.stderr }).toEqual({ code: 0, err: expect.stringContaining(`ssh-agent ${pid} at ${sock} stopped`) });
    expect(fs.existsSync(sock)).toBe(false);
    expect(fs.existsSync(`${sock}.pid`)).toBe(false);
    expect(listKeys().status).toBe(2); // cannot connect: nobody listens
  });

  test("refused with the fix: no key, a key ssh-add rejects, a socket directory others can enter, a stack without agentSocketPath; nothing to do for a stack without a host", () => {
    const noKey = ciStack(["start-agent", "lab"]);
    expect(noKey.status).toBe(1);
    expect(noKey.stderr).toContain("QM_SSH_PRIVATE_KEY is empty");
    const bad = ciStack(["start-agent", "lab"], { QM_SSH_PRIVATE_KEY: "not a key" });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("ssh-add refused QM_SSH_PRIVATE_KEY");
    expect(fs.existsSync(`${sock}.pid`)).toBe(false);
    expect(listKeys().status).toBe(2); // the agent it started for the bad key is gone

    fs.chmodSync(path.join(tmp, "run"), 0o755);
    try {
      const open = ciStack(["start-agent", "lab"], { QM_SSH_PRIVATE_KEY: key });
      expect(open.status).toBe(1);
      expect(open.stderr).toContain(`${path.join(tmp, "run")} has mode 755: other users could reach the agent — fix: chmod 0700`);
    } finally {
      fs.chmodSync(path.join(tmp, "run"), 0o700);
    }
    const missingDir = ciStack(["start-agent", "lab"], { QM_SSH_PRIVATE_KEY: key, QM_STACK_CONFIG: stackFile({ connection: { host: "h", agentSocketPath: path.join(tmp, "nope", "a.sock") } }) });
    expect(missingDir.status).toBe(1);
    expect(missingDir.stderr).toMatch(/nope \(the directory of agentSocketPath\) does not exist — fix: create it once for this user: sudo install -d -o \S+ -m 0700 /);

    const keyStack = ciStack(["start-agent", "lab"], { QM_SSH_PRIVATE_KEY: key, QM_STACK_CONFIG: stackFile({ connection: { host: "h" } }) });
    expect(keyStack.status).toBe(1);
    expect(keyStack.stderr).toContain("sets no quay-mirror:host.connection.agentSocketPath");

    const existing = ciStack(["start-agent", "lab"], { QM_SSH_PRIVATE_KEY: key, QM_STACK_CONFIG: stackFile(undefined) });
    expect({ code: existing.status, err: existing.stderr }).toEqual({ code: 0, err: expect.stringContaining("no host to dial, no agent") });
    expect(fs.existsSync(sock)).toBe(false);
  });
});
