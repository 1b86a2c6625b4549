// The unmodified @pulumi/command SDK (remote.Command, remote.CopyToRemote) through the real engine and the
// command plugin that scripts/install-pulumi.sh installs (our own plugins/command where the real
// pulumi-command cannot be built: docs/toolchain.md). The SSH server is a throw-away OpenSSH `sshd`
// (Debian's openssh-server) on a free 127.0.0.1 port, with a host key and an authorized client key made at
// test time; nothing of it is committed. Without /usr/sbin/sshd the test is skipped with a message
// (and fails under CI=true: tests/support/prerequisites.ts).
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { findPlaintext, stepsFor, toolchain, withEngineStack } from "./support/engine";
import { describeWithPrerequisites } from "./support/prerequisites";

const SSHD = ["/usr/sbin/sshd", "/usr/bin/sshd"].find((p) => fs.existsSync(p));
const CMD = "command:remote:Command";
const COPY = "command:remote:CopyToRemote";

interface Sshd {
    port: number;
    user: string;
    privateKey: string;
    hostKey: string;
    proc: ChildProcess;
    log: () => string;
}

async function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.once("error", reject);
        srv.listen(0, "127.0.0.1", () => {
            const port = (srv.address() as net.AddressInfo).port;
            srv.close(() => resolve(port));
        });
    });
}

async function waitForPort(port: number, ms: number): Promise<void> {
    const until = Date.now() + ms;
    for (;;) {
        const ok = await new Promise<boolean>((resolve) => {
            const s = net.connect(port, "127.0.0.1", () => {
                s.destroy();
                resolve(true);
            });
            s.once("error", () => resolve(false));
        });
        if (ok) {
            return;
        }
        if (Date.now() > until) {
            throw new Error(`sshd did not listen on 127.0.0.1:${port} within ${ms} ms`);
        }
        await new Promise((r) => setTimeout(r, 100));
    }
}

/** Starts sshd on 127.0.0.1 with keys generated in `dir`. */
async function startSshd(dir: string): Promise<Sshd> {
    const keygen = (file: string) =>
        execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "qm-test", "-f", file], { stdio: "ignore" });
    keygen(path.join(dir, "host_ed25519"));
    keygen(path.join(dir, "client_ed25519"));
    fs.copyFileSync(path.join(dir, "client_ed25519.pub"), path.join(dir, "authorized_keys"));
    const user = os.userInfo().username;
    const port = await freePort();
    const config = [
        `Port ${port}`,
        "ListenAddress 127.0.0.1",
        `HostKey ${path.join(dir, "host_ed25519")}`,
        `PidFile ${path.join(dir, "sshd.pid")}`,
        `AuthorizedKeysFile ${path.join(dir, "authorized_keys")}`,
        "StrictModes no",
        "UsePAM no",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes",
        `PermitRootLogin ${user === "root" ? "prohibit-password" : "no"}`,
        "AcceptEnv *",
        "Subsystem sftp internal-sftp",
        "LogLevel VERBOSE",
    ].join("\n");
    fs.writeFileSync(path.join(dir, "sshd_config"), config + "\n");
    if (process.getuid?.() === 0) {
        fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 }); // privilege separation directory
    }
    let output = "";
    const proc = spawn(SSHD!, ["-D", "-e", "-f", path.join(dir, "sshd_config")], { stdio: ["ignore", "pipe", "pipe"] });
    proc.stdout!.on("data", (b) => (output += b));
    proc.stderr!.on("data", (b) => (output += b));
    try {
        await waitForPort(port, 10_000);
    } catch (e) {
        proc.kill("SIGTERM");
        throw new Error(`${(e as Error).message}; sshd said: ${output || "(nothing)"}`);
    }
    return {
        port,
        user,
        privateKey: fs.readFileSync(path.join(dir, "client_ed25519"), "utf8"),
        hostKey: fs.readFileSync(path.join(dir, "host_ed25519.pub"), "utf8").trim(),
        proc,
        log: () => output,
    };
}

// scripts/test.sh installs openssh-server; without sshd the suite is skipped, and fails under CI=true.
describeWithPrerequisites("@pulumi/command remote resources through the engine (own command plugin, OpenSSH on 127.0.0.1)",
    { prerequisites: SSHD ? { ok: true } : { ok: false, reason: "no sshd (/usr/sbin/sshd) — fix: apt-get install openssh-server" }, skipVariable: "QM_SKIP_HOST_E2E" },
    () => {
    let tmp: string;
    let sshd: Sshd;

    beforeAll(async () => {
        toolchain();
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "qm-command-"));
        fs.mkdirSync(path.join(tmp, "sshd"));
        sshd = await startSshd(path.join(tmp, "sshd"));
    });

    afterAll(() => {
        sshd?.proc.kill("SIGTERM");
        fs.rmSync(tmp, { recursive: true, force: true });
    });

    test("create, update, replace by trigger, delete; secret stdin not in state; logging none not in output", async () => {
        const dir = path.join(tmp, "remote");
        fs.mkdirSync(dir);
        const payloadDir = path.join(tmp, "payload");
        fs.mkdirSync(path.join(payloadDir, "sub"), { recursive: true });
        fs.writeFileSync(path.join(payloadDir, "a.txt"), "alpha\n");
        fs.writeFileSync(path.join(payloadDir, "sub", "b.txt"), "beta\n");
        const stdinSecret = `stdin-${crypto.randomBytes(12).toString("hex")}`;
        const opsLog = () => fs.readFileSync(path.join(dir, "ops.log"), "utf8").trim().split("\n");

        await withEngineStack(
            {
                program: "remote-command",
                config: { host: "127.0.0.1", port: String(sshd.port), user: sshd.user, hostKey: sshd.hostKey, dir, payloadDir },
                secrets: { privateKey: sshd.privateKey, stdinSecret },
            },
            async (stack) => {
                // Preview runs nothing.
                const pre = await stack.preview();
                expect(stepsFor(pre, "log", CMD).map((s) => s.op)).toEqual(["create"]);
                expect(fs.existsSync(path.join(dir, "ops.log"))).toBe(false);

                // Create.
                const up1 = await stack.up();
                for (const name of ["log", "stdin", "echo-stdin", "loud", "quiet"]) {
                    expect(stepsFor(up1, name, CMD).map((s) => s.op)).toEqual(["create"]);
                }
                expect(stepsFor(up1, "conf", COPY).map((s) => s.op)).toEqual(["create"]);
                expect(opsLog()).toEqual(["create v1 hello-env"]);
                expect(up1.outputs.logStdout.value).toBe("created-1");
                expect(up1.outputs.stdinStdout.value).toBe("stored");
                expect(up1.outputs.echoStdout).toEqual({ value: stdinSecret, secret: true });
                expect(up1.outputs.loudStderr.value).toBe("loud-err-7a1c");
                expect(fs.readFileSync(path.join(dir, "stdin.txt"), "utf8")).toBe(stdinSecret);
                expect(fs.readFileSync(path.join(dir, "copied", "etc", "app.conf"), "utf8")).toBe("version=1\n");
                // remotePath does not exist: the directory becomes it.
                expect(fs.readFileSync(path.join(dir, "copied", "payload", "sub", "b.txt"), "utf8")).toBe("beta\n");

                // Logging: default streams the lines, "none" does not (neither in the CLI output nor in
                // the engine's diagnostics); the quiet command did run (its stdout is in state). Debug
                // diagnostics are left out: the Node SDK itself logs every resource's plain outputs there.
                const nonDebug = up1.diagnostics.filter((d) => d.severity !== "debug");
                const engineText1 = up1.stdout + up1.stderr + JSON.stringify(nonDebug);
                expect(engineText1).toContain("loud-marker-7a1c");
                expect(engineText1).toContain("loud-err-7a1c");
                expect(engineText1).not.toContain("quiet-marker-9f3e");
                expect(engineText1).not.toContain("quiet-err-9f3e");
                expect(up1.outputs.quietLength.value).toBe("quiet-marker-9f3e".length);
                expect(engineText1 + JSON.stringify(up1.diagnostics)).not.toContain(stdinSecret);

                // Secrets: stdin and the private key are never in the exported state in plain text;
                // the connection is a secret output.
                const state = await stack.exportState();
                expect(findPlaintext(state, stdinSecret)).toEqual([]);
                expect(findPlaintext(state, "PRIVATE KEY")).toEqual([]);
                const res = await stack.resources();
                const log = res.find((r) => r.urn.endsWith("::log"))!;
                expect(JSON.stringify(log.outputs?.connection)).toContain("4dabf18193072939515e22adb298388d"); // secret sig
                expect(log.outputs?.stdout).toBe("created-1");
                expect(log.outputs?.triggers).toEqual(["a"]);

                // Nothing changed: nothing runs.
                const same = await stack.up();
                expect(same.summary.update ?? 0).toBe(0);
                expect(opsLog()).toHaveLength(1);

                // An input change is an in-place update: `update` runs with the previous stdout.
                await stack.setConfig("version", "2");
                const up2 = await stack.up();
                expect(stepsFor(up2, "log", CMD).map((s) => s.op)).toEqual(["update"]);
                expect(stepsFor(up2, "conf", COPY).map((s) => s.op)).toEqual(["update"]);
                expect(stepsFor(up2, "stdin", CMD).map((s) => s.op)).toEqual(["same"]);
                expect(opsLog()).toEqual(["create v1 hello-env", "update v2 prev=created-1"]);
                expect(up2.outputs.logStdout.value).toBe("updated-2");
                expect(fs.readFileSync(path.join(dir, "copied", "etc", "app.conf"), "utf8")).toBe("version=2\n");

                // A trigger change replaces: create the new one, then delete the old one.
                await stack.setConfig("trigger", "b");
                const up3 = await stack.up();
                expect(stepsFor(up3, "log", CMD).map((s) => s.op)).toEqual(["create-replacement", "replace", "delete-replaced"]);
                expect(opsLog().slice(2)).toEqual(["create v2 hello-env", "delete prev=updated-2"]);
                expect(up3.outputs.logStdout.value).toBe("created-2");

                // Destroy runs `delete` with the last stdout.
                await stack.destroy();
                expect(opsLog().slice(4)).toEqual(["delete prev=created-2"]);
                expect(await stack.resources()).toEqual([]);
            },
        );
    }, 240_000);

    // Issue 14 point 6: the key only in an ssh-agent. The state then holds the socket's path and no key, and a
    // preview (which never dials) needs no agent: the plan is the same with or without one. Local mode: an
    // `up` fails (see below).
    test("agentSocketPath: up through a real ssh-agent; with the agent gone a preview plans no change and dials nothing, an up fails naming the socket; the agent back, it works; no key in the state", async () => {
        if (!toolchain().hasLanguageHost) {
            console.warn("skipped: needs pulumi-language-nodejs (local mode)");
            return;
        }
        const dir = path.join(tmp, "remote-agent");
        fs.mkdirSync(dir);
        const payloadDir = path.join(tmp, "payload-agent");
        fs.mkdirSync(payloadDir);
        fs.writeFileSync(path.join(payloadDir, "a.txt"), "alpha\n");
        const agentDir = path.join(tmp, "agent");
        fs.mkdirSync(agentDir, { mode: 0o700 });
        const sock = path.join(agentDir, "ssh-agent.sock");
        const opsLog = () => fs.readFileSync(path.join(dir, "ops.log"), "utf8").trim().split("\n");
        // sshd logs every TCP connection it accepts ("Connection from 127.0.0.1 port …").
        const connections = () => (sshd.log().match(/Connection from 127\.0\.0\.1 port/g) ?? []).length;
        const until = async (what: string, ok: () => boolean) => {
            for (const deadline = Date.now() + 10_000; !ok(); await new Promise((r) => setTimeout(r, 50))) {
                if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
            }
        };
        // A real OpenSSH agent in the foreground (-D), given the client key on stdin (`ssh-add -`).
        const startAgent = async (): Promise<ChildProcess> => {
            const agent = spawn("ssh-agent", ["-D", "-a", sock], { stdio: "ignore" });
            await until("the agent's socket", () => fs.existsSync(sock));
            execFileSync("ssh-add", ["-q", "-"], { input: sshd.privateKey, env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: ["pipe", "ignore", "ignore"] });
            return agent;
        };
        const stopAgent = async (agent: ChildProcess) => {
            agent.kill("SIGTERM");
            await until("the agent's socket to go", () => !fs.existsSync(sock));
        };
        const keyBody = sshd.privateKey.split("\n").filter((l) => l && !l.startsWith("-----"));

        let agent = await startAgent();
        try {
            await withEngineStack(
                {
                    program: "remote-command",
                    mode: "local",
                    config: { host: "127.0.0.1", port: String(sshd.port), user: sshd.user, hostKey: sshd.hostKey, dir, payloadDir, agentSocketPath: sock },
                    secrets: { stdinSecret: `stdin-${crypto.randomBytes(12).toString("hex")}` },
                    // Only the configured socket: no agent of the environment stands in for it.
                    env: { SSH_AUTH_SOCK: "" },
                },
                async (stack) => {
                    const up1 = await stack.up();
                    expect(stepsFor(up1, "log", CMD).map((s) => s.op)).toEqual(["create"]);
                    expect(opsLog()).toEqual(["create v1 hello-env"]);

                    // No agent: a preview, with and without --refresh, plans no change and opens no connection.
                    await stopAgent(agent);
                    const before = connections();
                    for (const refresh of [false, true]) {
                        const pre = await stack.preview({ refresh });
                        expect({ refresh, ops: pre.steps.filter((s) => s.type === CMD || s.type === COPY).map((s) => s.op).filter((op) => op !== "same" && op !== "refresh") }).toEqual({ refresh, ops: [] });
                        expect(pre.summary.update ?? 0).toBe(0);
                        expect(pre.summary.same).toBeGreaterThan(5);
                    }
                    // A change previews as that change, still without an agent and without a connection.
                    await stack.setConfig("version", "2");
                    const planned = await stack.preview();
                    expect(stepsFor(planned, "log", CMD).map((s) => s.op)).toEqual(["update"]);
                    expect(stepsFor(planned, "stdin", CMD).map((s) => s.op)).toEqual(["same"]);
                    expect(connections()).toBe(before);

                    // An up without the agent fails before dialing, naming the socket and the fix.
                    const err: Error = await stack.up().then(
                        () => {
                            throw new Error("up should fail without an agent");
                        },
                        (e: Error) => e,
                    );
                    const text = String(err.message ?? err);
                    expect(text).toContain(`connection.agentSocketPath: no SSH agent answers at ${sock}`);
                    expect(text).toContain(`ssh-agent -a ${sock}`);
                    expect(connections()).toBe(before);
                    expect(opsLog()).toEqual(["create v1 hello-env"]);

                    // The agent back: the same up works.
                    agent = await startAgent();
                    const up2 = await stack.up();
                    expect(stepsFor(up2, "log", CMD).map((s) => s.op)).toEqual(["update"]);
                    expect(opsLog()).toEqual(["create v1 hello-env", "update v2 prev=created-1"]);

                    // The state, even decrypted with the passphrase, holds the socket's path and no key.
                    for (const showSecrets of [false, true]) {
                        const state = await stack.exportState({ showSecrets });
                        expect(findPlaintext(state, "PRIVATE KEY")).toEqual([]);
                        for (const line of keyBody) expect(findPlaintext(state, line)).toEqual([]);
                    }
                    // (a secret is stored as {"<sig>": …, "plaintext": "<its JSON>"} when decrypted)
                    const decrypted = JSON.stringify(await stack.exportState({ showSecrets: true }));
                    expect(decrypted).toContain(`agentSocketPath\\":\\"${sock}\\"`);
                    expect(decrypted).not.toContain("privateKey");

                    await stack.destroy();
                    expect(opsLog().slice(2)).toEqual(["delete prev=updated-2"]);
                },
            );
        } finally {
            agent.kill("SIGTERM");
        }
    }, 300_000);

    // Runs the program through the language host ("local"): a failed `up` of an inline program leaves the
    // Node SDK's pending RPCs rejecting in this process ("Resource monitor is terminating").
    test("a failing command fails the update with its exit status and output, without stdin or environment values", async () => {
        if (!toolchain().hasLanguageHost) {
            console.warn("skipped: needs pulumi-language-nodejs (local mode)");
            return;
        }
        const dir = path.join(tmp, "remote-failing");
        fs.mkdirSync(dir);
        const payloadDir = path.join(tmp, "payload-failing");
        fs.mkdirSync(payloadDir);
        const stdinSecret = `stdin-${crypto.randomBytes(12).toString("hex")}`;
        const envSecret = `env-${crypto.randomBytes(12).toString("hex")}`;
        await withEngineStack(
            {
                program: "remote-command",
                mode: "local",
                config: { host: "127.0.0.1", port: String(sshd.port), user: sshd.user, hostKey: sshd.hostKey, dir, payloadDir, failing: "yes" },
                secrets: { privateKey: sshd.privateKey, stdinSecret, envSecret },
            },
            async (stack) => {
                const err: Error = await stack.up().then(
                    () => {
                        throw new Error("up should fail");
                    },
                    (e: Error) => e,
                );
                const text = String(err.message ?? err);
                expect(text).toContain("Process exited with status 4");
                expect(text).toContain("went-wrong");
                expect(text).toContain("token=[redacted]");
                expect(text).not.toContain(stdinSecret);
                expect(text).not.toContain(envSecret);
                const state = await stack.exportState();
                expect(findPlaintext(state, stdinSecret)).toEqual([]);
                expect(findPlaintext(state, envSecret)).toEqual([]);
            },
        );
    }, 120_000);

    // Our plugin only (the real pulumi-command cannot parse "trust-on-first-use" and fails). Local mode: the
    // last `up` fails (see above).
    test("trust-on-first-use: the first up records the offered key with a warning; no change afterwards; another key fails before authentication", async () => {
        if (!toolchain().hasLanguageHost) {
            console.warn("skipped: needs pulumi-language-nodejs (local mode)");
            return;
        }
        const fingerprint = (pub: string) => {
            const f = path.join(tmp, `fp-${crypto.randomBytes(4).toString("hex")}.pub`);
            fs.writeFileSync(f, pub + "\n");
            return execFileSync("ssh-keygen", ["-lf", f], { encoding: "utf8" }).split(" ")[1]!;
        };
        const offered = sshd.hostKey.split(" ").slice(0, 2).join(" ");
        fs.mkdirSync(path.join(tmp, "sshd-other"));
        const other = await startSshd(path.join(tmp, "sshd-other"));
        try {
            await withEngineStack(
                {
                    program: "remote-tofu",
                    mode: "local",
                    config: { host: "127.0.0.1", port: String(sshd.port), user: sshd.user },
                    secrets: { privateKey: sshd.privateKey },
                },
                async (stack) => {
                    const up1 = await stack.up();
                    expect(up1.outputs.recorded.value).toBe(offered);
                    expect(up1.outputs.step.value).toBe("step-1");
                    const warnings = up1.diagnostics.filter((d) => d.severity === "warning").map((d) => d.message).join("\n");
                    expect(warnings).toContain(`accepted the host key ssh-ed25519 ${fingerprint(sshd.hostKey)} that 127.0.0.1:${sshd.port} offered WITHOUT verifying it`);

                    const same = await stack.up();
                    expect(same.summary.update ?? 0).toBe(0);
                    expect(same.diagnostics.filter((d) => d.severity === "warning" && d.message.includes("WITHOUT verifying"))).toEqual([]);

                    // A new command runs against the recorded key: the same server passes.
                    await stack.setConfig("version", "2");
                    const up2 = await stack.up();
                    expect(stepsFor(up2, "host-key", CMD).map((s) => s.op)).toEqual(["update"]);
                    expect(up2.outputs.recorded.value).toBe(offered);

                    // Another server (another key) at the address: refused during the key exchange.
                    await stack.setConfig("port", String(other.port));
                    await stack.setConfig("version", "3");
                    const err: Error = await stack.up().then(
                        () => {
                            throw new Error("up should fail");
                        },
                        (e: Error) => e,
                    );
                    const text = String(err.message ?? err);
                    // (the connection is a secret input, so the plugin redacts its strings inside the cause; the
                    // address follows it)
                    expect(text).toMatch(new RegExp(`host key mismatch for .*:${other.port}: the server presented ssh-ed25519 SHA256:.*127\\.0\\.0\\.1:${other.port}`));
                    expect(text).toContain(fingerprint(other.hostKey));
                    expect(text).toContain(fingerprint(sshd.hostKey));
                    expect(other.log()).not.toMatch(/Accepted publickey|session opened/);
                },
            );
        } finally {
            other.proc.kill("SIGTERM");
        }
    }, 240_000);
});
