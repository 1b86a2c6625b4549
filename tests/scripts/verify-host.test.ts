// The host side of the verify command (scripts/verify/host.ts, run.ts) without a Quay host:
// - the SSH settings come from the stack's connection and pin the host key (never an unknown one);
// - the remote command (host-facts.sh rendered by the project's renderer) passes shellcheck and, run here
//   with stand-in systemctl/curl on PATH, yields facts that judgeHost turns into the right verdicts;
// - OpenSSH as verify drives it, against a throwaway sshd on 127.0.0.1: the pinned key connects, another
//   key is refused, and the sshPrivateKey secret works through the private agent (never on disk or argv).
// - full mode: runVerify hands the stack's connection to the SSH runner and orders the lines.
// NOT proven here: the checks against a real provisioned host (systemd units, Quay's health).
import { ChildProcess, execFileSync, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { hostCommand, hostPlan, judgeHost, parseFacts, sshFiles, sshRunner, sshTargetFromConfig, SshTarget } from "../../scripts/verify/host";
import { Redactor, exitStatus, formatLine } from "../../scripts/verify/report";
import { runVerify } from "../../scripts/verify/run";
import { repoRoot } from "../support/engine";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
const NOW = 1_800_000_000;

describe("SSH settings from the stack's connection", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "qm-verify-kh-"));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("hostKey is pinned; knownHostsFile is read relative to the project; agentSocketPath is the agent", () => {
    expect(sshTargetFromConfig({ connection: { host: "quay.example.com", hostKey: `${KEY} comment`, agentSocketPath: "/run/qm/agent.sock" } }, undefined, dir)).toEqual({
      host: "quay.example.com",
      port: 22,
      user: "root",
      hostKey: KEY,
      agentSocketPath: "/run/qm/agent.sock",
    });
    fs.writeFileSync(path.join(dir, "known_hosts"), `other.example.com ${KEY.replace("AAAAI", "AAAAJ")}\n[quay.example.com]:2222 ${KEY}\n`);
    expect(sshTargetFromConfig({ connection: { host: "quay.example.com", port: 2222, user: "ops", knownHostsFile: "known_hosts" } }, "KEY-MATERIAL", dir)).toEqual({
      host: "quay.example.com",
      port: 2222,
      user: "ops",
      hostKey: KEY,
      privateKey: "KEY-MATERIAL",
    });
  });

  test("never an unknown host key: trust-on-first-use, the placeholder, a known_hosts without the host are refused with the fix", () => {
    const problem = (c: Record<string, unknown>, key?: string) => {
      const r = sshTargetFromConfig({ connection: c }, key, dir);
      return "problem" in r ? r.problem : "connected";
    };
    expect(problem({ host: "h.example.com", hostKeyPolicy: "trust-on-first-use", agentSocketPath: "/run/a.sock" })).toMatch(/pins no host key .*never accepts an unknown host key/);
    expect(problem({ host: "h.example.com", hostKey: "REPLACE-ME with the key", agentSocketPath: "/run/a.sock" })).toMatch(/pins no host key/);
    expect(problem({ host: "nothere.example.com", knownHostsFile: path.join(dir, "known_hosts"), agentSocketPath: "/run/a.sock" })).toMatch(/knownHostsFile: .* has no key for nothere\.example\.com/);
    expect(problem({ host: "h.example.com", hostKey: KEY })).toMatch(/neither .*agentSocketPath nor the sshPrivateKey secret/);
    expect(problem({ host: "h.example.com; rm -rf /", hostKey: KEY, agentSocketPath: "/run/a.sock" })).toMatch(/host is not a host name/);
  });

  test("ssh_config: strict host-key checking against only our known_hosts; a bastion is a ProxyJump with its own pinned key", () => {
    const t: SshTarget = { host: "10.0.0.5", port: 22, user: "root", hostKey: KEY, agentSocketPath: "/run/qm/agent.sock", bastion: { host: "bastion.example.com", port: 2200, user: "jump", hostKey: KEY, agentSocketPath: "/run/qm/agent.sock" } };
    const f = sshFiles(t, "/tmp/x", "/tmp/x/agent.sock");
    expect(f.knownHosts).toBe(`10.0.0.5 ${KEY}\n[bastion.example.com]:2200 ${KEY}\n`);
    for (const line of ["StrictHostKeyChecking yes", "GlobalKnownHostsFile /dev/null", 'UserKnownHostsFile "/tmp/x/known_hosts"', "BatchMode yes", "ProxyJump quay-bastion", 'IdentityAgent "/run/qm/agent.sock"']) {
      expect(f.config).toContain(line);
    }
    expect(f.config).not.toMatch(/StrictHostKeyChecking (no|accept-new)/);
  });
});

describe("the remote command and the verdicts", () => {
  const fake = fs.mkdtempSync(path.join(os.tmpdir(), "qm-verify-fake-"));
  afterAll(() => fs.rmSync(fake, { recursive: true, force: true }));
  const units = { backup: "quay-backup.service", restoreValidate: "quay-restore-validate.service" };

  // Stand-ins for systemctl, curl and date that answer from files in $FAKE and log every call.
  beforeAll(() => {
    fs.mkdirSync(path.join(fake, "bin"));
    const write = (name: string, body: string) => fs.writeFileSync(path.join(fake, "bin", name), `#!/usr/bin/env bash\necho "${name} $*" >>"$FAKE/calls"\n${body}\n`, { mode: 0o755 });
    write("systemctl", 'case "$1" in is-active) s=$(cat "$FAKE/active-$2" 2>/dev/null || echo inactive); echo "$s"; [ "$s" = active ] ;; show) cat "$FAKE/show-$2" 2>/dev/null || printf "LoadState=not-found\\nResult=success\\nExecMainStatus=0\\nExecMainExitTimestamp=\\n" ;; *) exit 9 ;; esac');
    write("curl", 'for a; do url=$a; done; case "$url" in */health/instance) cat "$FAKE/health" ;; */api/v1/discovery) echo 200 ;; esac');
    write("date", `echo ${NOW}`);
  });

  function runHere(command: string, state: { active: Record<string, string>; health: string; show: Record<string, string> }) {
    for (const f of fs.readdirSync(fake)) if (f !== "bin") fs.rmSync(path.join(fake, f));
    for (const [u, s] of Object.entries(state.active)) fs.writeFileSync(path.join(fake, `active-${u}`), s);
    for (const [u, s] of Object.entries(state.show)) fs.writeFileSync(path.join(fake, `show-${u}`), s);
    fs.writeFileSync(path.join(fake, "health"), state.health);
    const r = spawnSync("sh", ["-c", command], { env: { ...process.env, PATH: `${fake}/bin:${process.env.PATH}`, FAKE: fake }, encoding: "utf8" });
    return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr, calls: fs.readFileSync(path.join(fake, "calls"), "utf8") };
  }

  const allActive = { "quay.service": "active", postgresql: "active", "redis-server": "active", "quay-backup.timer": "active", "quay-restore-validate.timer": "active" };
  const ran = (hoursAgo: number, result = "success", status = "0") => `LoadState=loaded\nResult=${result}\nExecMainStatus=${status}\nExecMainExitTimestamp=@${NOW - Math.round(hoursAgo * 3600)}\n`;

  test("the rendered command passes shellcheck and only reads (systemctl is-active/show, GETs)", () => {
    const command = hostCommand(hostPlan("root", units));
    const script = /^bash -c '([\s\S]*)' quay-mirror-verify$/.exec(command)![1]!.replace(/'\\''/g, "'");
    const file = path.join(fake, "host-facts.rendered.sh");
    fs.writeFileSync(file, script);
    const sc = spawnSync("shellcheck", ["--shell=bash", file], { encoding: "utf8" });
    expect(sc.stdout + sc.stderr).toBe("");
    expect(sc.status).toBe(0);
    const r = runHere(command, { active: allActive, health: "200", show: { [units.backup]: ran(3), [units.restoreValidate]: ran(50) } });
    for (const call of r.calls.trim().split("\n")) expect(call).toMatch(/^(systemctl (is-active|show) |curl -s -o \/dev\/null -w %\{http_code\} --max-time 10 http:\/\/127\.0\.0\.1:8080\/|date )/);
    expect(hostCommand(hostPlan("ops", units))).toMatch(/^sudo -n -- bash -c /);
  });

  test("all well: one ok line per unit, health, local discovery, backup and restore proof", () => {
    const plan = hostPlan("root", units);
    const r = runHere(hostCommand(plan), { active: allActive, health: "200", show: { [units.backup]: ran(3), [units.restoreValidate]: ran(50) } });
    const lines = judgeHost(plan, r).map((l) => formatLine(l));
    expect(lines).toEqual([
      "ok   host: unit quay.service active",
      "ok   host: unit postgresql active",
      "ok   host: unit redis-server active",
      "ok   host: timer quay-backup.timer active",
      "ok   host: timer quay-restore-validate.timer active",
      "ok   host: /health/instance on 127.0.0.1:8080 answers 200",
      "ok   discovery: on the host, http://127.0.0.1:8080/api/v1/discovery",
      "ok   backups: latest backup — quay-backup.service succeeded 3.0 h ago",
      "ok   backups: last restore proof — quay-restore-validate.service succeeded 2.1 days ago",
    ]);
  });

  test("what is wrong is named: a stopped unit, a 503 health, a stale backup, a failed restore proof, a job that never ran", () => {
    const plan = hostPlan("root", units);
    const broken = runHere(hostCommand(plan), {
      active: { ...allActive, "redis-server": "failed" },
      health: "503",
      show: { [units.backup]: ran(30), [units.restoreValidate]: ran(20, "exit-code", "1") },
    });
    const lines = judgeHost(plan, broken);
    expect(exitStatus(lines)).toBe(1);
    expect(lines.filter((l) => l.verdict === "FAIL").map((l) => formatLine(l))).toEqual([
      "FAIL host: unit redis-server active — systemctl is-active says failed — see systemctl status redis-server",
      "FAIL host: /health/instance on 127.0.0.1:8080 answers 200 — answered 503 — see journalctl -u quay.service",
      "FAIL backups: latest backup — quay-backup.service last succeeded 30.0 h ago, more than 26.0 h — fix: check its timer (systemctl list-timers), or systemctl start quay-backup.service",
      "FAIL backups: last restore proof — quay-restore-validate.service's last run failed (Result exit-code, exit status 1) 20.0 h ago — see journalctl -u quay-restore-validate.service",
    ]);
    const never = judgeHost(plan, runHere(hostCommand(plan), { active: allActive, health: "200", show: { [units.backup]: "LoadState=loaded\nResult=success\nExecMainStatus=0\nExecMainExitTimestamp=\n" } }));
    expect(never.filter((l) => l.verdict === "FAIL").map((l) => formatLine(l))).toEqual([
      "FAIL backups: latest backup — quay-backup.service has not run since the host booted — fix: systemctl start quay-backup.service",
      "FAIL backups: last restore proof — quay-restore-validate.service is not installed on the host (LoadState not-found) — fix: bash scripts/pulumi.sh up",
    ]);
    // Looser limits are the caller's choice.
    expect(judgeHost(plan, broken, { maxBackupAgeHours: 48, maxRestoreAgeHours: 200 }).find((l) => l.what === "backups: latest backup")?.verdict).toBe("ok");
  });

  test("an SSH failure fails every host line with ssh's reason; without backups no backup line", () => {
    const plan = hostPlan("root");
    const lines = judgeHost(plan, { code: 255, stdout: "", stderr: "Warning: …\nHost key verification failed.\n" });
    expect(lines.map((l) => formatLine(l))).toEqual([
      "FAIL host: unit quay.service active — ssh: Host key verification failed.",
      "FAIL host: unit postgresql active — ssh: Host key verification failed.",
      "FAIL host: unit redis-server active — ssh: Host key verification failed.",
      "FAIL host: /health/instance on 127.0.0.1:8080 answers 200 — ssh: Host key verification failed.",
      "FAIL discovery: on the host, http://127.0.0.1:8080/api/v1/discovery — ssh: Host key verification failed.",
    ]);
    expect(parseFacts("active quay.service active\nshow x.service Result=success\nnow - 5\n")).toEqual({ active: { "quay.service": "active" }, http: {}, show: { "x.service": { Result: "success" } }, now: 5 });
    expect(() => hostPlan("root", { backup: "x; reboot", restoreValidate: "y.service" })).toThrow(/not a systemd unit name/);
  });

  test("full mode: runVerify connects with the stack's connection and puts the host lines first and the backup lines last", async () => {
    const targets: SshTarget[] = [];
    const commands: string[] = [];
    const result = await runVerify({
      projectDir: repoRoot,
      stackFile: "Pulumi.test.yaml",
      config: {
        mode: "full",
        registryHostname: "quay.invalid",
        modelFile: "data/quay/bootstrap-model.json",
        host: { connection: { host: "quay-01.example.com", port: 2222, hostKey: KEY, agentSocketPath: "/run/qm/agent.sock" } },
      },
      outputs: { apiUrl: "http://127.0.0.1:1", backups: { location: "quay-backups/quay/", units } },
      resources: [],
      connect: async (t) => {
        targets.push(t);
        return {
          runner: async (command) => {
            commands.push(command);
            return runHere(command, { active: allActive, health: "200", show: { [units.backup]: ran(1), [units.restoreValidate]: ran(1) } });
          },
          cleanup: () => undefined,
        };
      },
    });
    expect(targets).toEqual([{ host: "quay-01.example.com", port: 2222, user: "root", hostKey: KEY, agentSocketPath: "/run/qm/agent.sock" }]);
    expect(commands).toHaveLength(1);
    expect(commands[0]).toMatch(/^bash -c /);
    const whats = result.lines.map((l) => `${l.verdict} ${l.what}`);
    expect(whats.slice(0, 7).every((w) => /^ok (host|discovery: on the host)/.test(w))).toBe(true);
    expect(whats.slice(-2)).toEqual(["ok backups: latest backup", "ok backups: last restore proof"]);
    // Nothing answers at the registry or the API here: those lines fail, and say where they looked.
    expect(whats).toContain("FAIL discovery: quay.invalid (https://quay.invalid) GET /v2/ asks for a Quay token");
    expect(whats).toContain("FAIL model: the stack's Quay objects");
  }, 60_000);

  test("backups configured but not in the outputs (never applied) fail; no backups configured is a skip", async () => {
    const base = {
      projectDir: repoRoot,
      stackFile: "Pulumi.test.yaml",
      outputs: { apiUrl: "http://127.0.0.1:1" },
      resources: [],
      connect: async () => ({ runner: async () => ({ code: 255, stdout: "", stderr: "ssh: connect to host quay-01.example.com port 22: Connection refused" }), cleanup: () => undefined }),
    };
    const config = { mode: "full", registryHostname: "quay.invalid", modelFile: "data/quay/bootstrap-model.json", host: { connection: { host: "quay-01.example.com", hostKey: KEY, agentSocketPath: "/run/qm/agent.sock" } } };
    const withBackups = await runVerify({ ...base, config: { ...config, objectStorage: { endpoint: "http://127.0.0.1:9000", adminAccessKey: "root" }, backups: { prefix: "quay" } } });
    expect(withBackups.lines.map((l) => formatLine(l)).slice(-1)).toEqual([
      "FAIL backups: latest backup and last restore proof — quay-mirror:backups is set but the stack's outputs name no backup units (not applied yet) — fix: bash scripts/pulumi.sh up",
    ]);
    expect(formatLine(withBackups.lines[0]!)).toBe("FAIL host: unit quay.service active — ssh: connect to host quay-01.example.com port 22: Connection refused");
    const without = await runVerify({ ...base, config });
    expect(without.lines.map((l) => `${l.verdict} ${l.what}`).slice(-1)).toEqual(["skip backups: latest backup and last restore proof"]);
  }, 60_000);

  test("no line prints a secret the command holds", () => {
    const r = new Redactor();
    r.add("s3cr3t-robot-token", "short");
    expect(formatLine({ verdict: "FAIL", what: "x", why: `Quay said s3cr3t-robot-token and ${Buffer.from("s3cr3t-robot-token").toString("base64").replace(/=+$/, "")}` }, r)).toBe("FAIL x — Quay said [secret] and [secret]");
  });
});

describe("OpenSSH as verify drives it, against a throwaway sshd on 127.0.0.1", () => {
  let dir: string;
  let sshd: ChildProcess | undefined;
  let port: number;
  let hostKey: string;
  let clientKey: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "qm-verify-sshd-"));
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "host_key")]);
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "client_key")]);
    hostKey = fs.readFileSync(path.join(dir, "host_key.pub"), "utf8").trim().split(" ").slice(0, 2).join(" ");
    clientKey = fs.readFileSync(path.join(dir, "client_key"), "utf8");
    fs.copyFileSync(path.join(dir, "client_key.pub"), path.join(dir, "authorized_keys"));
    port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    fs.writeFileSync(
      path.join(dir, "sshd_config"),
      [`ListenAddress 127.0.0.1:${port}`, `HostKey ${dir}/host_key`, `AuthorizedKeysFile ${dir}/authorized_keys`, "StrictModes no", "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no", `PidFile ${dir}/sshd.pid`].join("\n") + "\n",
    );
    fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 }); // sshd's privilege-separation directory
    sshd = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", path.join(dir, "sshd_config")], { stdio: "ignore" });
    for (let i = 0; i < 100; i++) {
      const up = await new Promise<boolean>((resolve) => net.connect(port, "127.0.0.1").on("connect", function (this: net.Socket) { this.destroy(); resolve(true); }).on("error", () => resolve(false)));
      if (up) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  });
  afterAll(() => {
    if (sshd && sshd.exitCode === null) sshd.kill("SIGTERM");
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const user = os.userInfo().username;

  test("the pinned key connects (the sshPrivateKey secret through a private agent); another key is refused; the temporary directory is gone after", async () => {
    const { runner, cleanup } = await sshRunner({ host: "127.0.0.1", port, user, hostKey, privateKey: clientKey });
    const tmp = fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith("qm-verify-ssh-"));
    try {
      const r = await runner("echo connected-as-$(id -un)");
      expect({ code: r.code, stdout: r.stdout.trim() }).toEqual({ code: 0, stdout: `connected-as-${user}` });
    } finally {
      cleanup();
    }
    expect(fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith("qm-verify-ssh-") && tmp.includes(f)).length).toBeLessThan(tmp.length);

    const other = fs.readFileSync(path.join(dir, "client_key.pub"), "utf8").trim().split(" ").slice(0, 2).join(" ");
    const wrong = await sshRunner({ host: "127.0.0.1", port, user, hostKey: other, privateKey: clientKey });
    try {
      const r = await wrong.runner("echo should-not-run");
      expect(r.code).toBe(255);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/);
    } finally {
      wrong.cleanup();
    }
  }, 60_000);
});
