// QuayHost through the real engine on a disposable test host (wherever test hosts can run; QM_SKIP_HOST_E2E=1 skips it). The image is a stand-in Quay (tests/quay-host/fake-quay.ts on port 8080) loaded through
// the air-gapped archive path; it refuses to start unless the container user can read config.yaml.
// Checks: a bare host to a running registry with a working superuser bootstrap token in one `up`, with 8080
// unreachable from the proxy address until initialize succeeded; a second `up` changes nothing; one config key
// re-runs only config, unit and health; no secret in the state.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import * as ts from "typescript";
import { findPlaintext, withEngineStack } from "../support/engine";
import { describeOnTestHost, startTestHost, TestHost } from "../support/testhost";

const repo = path.resolve(__dirname, "../..");
jest.setTimeout(30 * 60_000);

/**
 * Starts a TCP connection to host:port every `everyMs` (without waiting for the previous one) until stopped,
 * from this machine (the host side of the veth: the proxy address). UFW drops what it does not admit, so an
 * attempt either connects or times out after `timeoutMs`. Each records when it started, ended and whether it
 * connected.
 */
function pollPort(host: string, port: number, everyMs = 100, timeoutMs = 500) {
  const attempts: { start: number; end: number; connected: boolean }[] = [];
  const pending = new Set<Promise<void>>();
  const once = () => {
    const p = new Promise<void>((resolve) => {
      const start = Date.now() / 1000;
      const socket = net.connect({ host, port });
      let settled = false;
      const done = (connected: boolean) => {
        if (settled) return;
        settled = true;
        attempts.push({ start, end: Date.now() / 1000, connected });
        socket.destroy();
        resolve();
      };
      socket.setTimeout(timeoutMs, () => done(false));
      socket.once("connect", () => done(true));
      socket.once("error", () => done(false));
    });
    pending.add(p);
    void p.then(() => pending.delete(p));
  };
  const timer = setInterval(once, everyMs);
  return {
    attempts,
    stop: async () => {
      clearInterval(timer);
      await Promise.all([...pending]);
    },
  };
}

function buildStandInArchive(dir: string): string {
  const app = path.join(dir, "app");
  fs.mkdirSync(app, { recursive: true });
  const source = fs.readFileSync(path.join(__dirname, "fake-quay.ts"), "utf8");
  fs.writeFileSync(path.join(app, "fake-quay.js"), ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020 } }).outputText);
  fs.copyFileSync(path.join(__dirname, "e2e-program", "stand-in.js"), path.join(app, "server.js"));
  const out = path.join(dir, "quay-standin.tar");
  execFileSync(path.join(repo, "scripts/testhost/build-image-archive.sh"), ["--out", out, "--tag", "localhost/quay-standin:e2e", "--app", app], { stdio: "inherit" });
  return out;
}

describeOnTestHost("QuayHost through the engine on a test host", () => {
  let host: TestHost;
  let dir: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "quayhost-e2e-"));
    host = await startTestHost("qhe2e", { persistent: true });
  });
  afterAll(async () => {
    await host?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("bare host → registry in one up; no-op second up; one config key → config, unit, health only", async () => {
    const archive = buildStandInArchive(dir);
    // the harness names its work directory after the program (bin/.engine/<program>-XXXX); ours lives
    // outside tests/programs, so that path goes through bin/quay-host
    fs.mkdirSync(path.join(repo, "bin", "quay-host"), { recursive: true });
    await withEngineStack(
      {
        program: "../quay-host/e2e-program",
        projectName: "qm-quayhost-e2e",
        config: { host: host.host, port: String(host.port), user: host.user, hostKey: host.hostKey, imageArchive: archive, proxyAddress: host.hostAddress },
        secrets: { privateKey: host.privateKey },
      },
      async (stack) => {
        // While the first up runs, this machine (the proxy address, on the host side of the veth) keeps trying
        // Quay's port: it must never connect before the expose step (after initialize) wrote its marker.
        const poller = pollPort(host.host, 8080);
        const up1 = await stack.up().finally(() => poller.stop());
        const token = up1.outputs.bootstrapToken!;
        expect(token.secret).toBe(true);
        expect(String(token.value)).toMatch(/^[A-Z0-9]{40}$/);
        // the token works from the proxy address (this machine) and is a superuser's
        const me = JSON.parse(execFileSync("curl", ["-sS", "-H", `Authorization: Bearer ${token.value}`, `http://${host.host}:8080/api/v1/user/`], { encoding: "utf8" }));
        expect(me).toMatchObject({ username: "quayadmin", super_user: true });

        // on the host
        // Quay listened on 8080 (the stand-in logs it) well before the marker; every attempt in between failed,
        // and no attempt connected before the marker existed.
        const markerAt = Number(await host.sshOk("date -r /var/lib/quay/.quay-mirror-initialized +%s.%N"));
        const listenAt = Number((await host.sshOk("sudo journalctl -u quay.service -o short-unix --no-pager | grep -m1 'stand-in listening on 8080' | cut -d' ' -f1")).trim());
        expect(listenAt).toBeGreaterThan(0);
        expect(markerAt).toBeGreaterThan(listenAt);
        // every attempt that overlapped the time Quay listened before the marker existed failed; an attempt
        // connected only at or after the marker (the expose step writes it, then admits the proxy)
        const during = poller.attempts.filter((a) => a.start < markerAt && a.end > listenAt);
        const early = poller.attempts.filter((a) => a.connected && a.end < markerAt);
        expect({ listenAt, markerAt, probing: during.length > 0, early }).toEqual({ listenAt, markerAt, probing: true, early: [] });
        expect(poller.attempts.some((a) => a.connected)).toBe(true);
        // UID 1001 is the no-login system account; the upload directory is private under a root-owned parent
        expect(await host.sshOk("getent passwd 1001 | cut -d: -f1,7")).toBe("quay-container:/usr/sbin/nologin\n");
        expect(await host.sshOk("sudo stat -c '%a %U' /var/lib/quay-mirror /var/lib/quay-mirror/upload")).toBe(`755 root\n700 ${host.user}\n`);
        // the pinned posture reached config.yaml
        expect(await host.sshOk("sudo grep -c -x -E 'TESTING: false|FEATURE_USER_CREATION: false|FEATURE_ANONYMOUS_ACCESS: false|FEATURE_PROXY_STORAGE: true|CREATE_PRIVATE_REPO_ON_PUSH: true' /etc/quay/config/config.yaml")).toBe("5\n");
        // with an ACL, stat's group bits show the ACL mask (r--): 640 here means root rw, UID 1001 r, nobody else
        expect(await host.sshOk("sudo stat -c '%a %U %G' /etc/quay/config/config.yaml")).toBe("640 root root\n");
        expect((await host.sshOk("sudo getfacl -cpn /etc/quay/config/config.yaml")).trim().split("\n").sort()).toEqual(
          ["group::---", "mask::r--", "other::---", "user:1001:r--", "user::rw-"].sort(),
        );
        expect((await host.ssh("head -c1 /etc/quay/config/config.yaml")).code).not.toBe(0);
        expect(await host.sshOk("redis-cli -h 127.0.0.1 ping")).toMatch(/NOAUTH/);
        const rules = (await host.sshOk("sudo ufw show added | tail -n +2")).trim().split("\n").sort();
        expect(rules).toEqual([`ufw allow ${host.port}/tcp`, `ufw allow from ${host.hostAddress} to any port 8080 proto tcp`].sort());
        expect(await host.sshOk("systemctl is-enabled quay.service postgresql redis-server ufw")).toBe("enabled\nenabled\nenabled\nenabled\n");

        // nothing secret in the state
        const state = await stack.exportState();
        for (const secret of [String(token.value), String(up1.outputs.superuserPassword!.value), "minio-secret'\"$(x)", host.privateKey.split("\n")[4]!]) {
          expect(findPlaintext(state, secret)).toEqual([]);
        }

        const up2 = await stack.up();
        expect(Object.keys(up2.summary).filter((op) => op !== "same")).toEqual([]);

        await stack.setConfig("extraTitle", "second");
        const up3 = await stack.up();
        // (the pulumi-nodejs default provider "default" also updates: dynamic providers receive the stack
        // config, and a config key changed; it runs nothing on the host)
        const ours = up3.steps.filter((s) => s.type.startsWith("command:") || s.type.includes("quay-host"));
        expect(ours.filter((s) => s.op === "update").map((s) => s.name).sort()).toEqual(["quay-config", "quay-health", "quay-unit"]);
        expect(ours.filter((s) => !["update", "same"].includes(s.op))).toEqual([]);

        // A run that died after initialize: the initialize step is gone from the state (and its token
        // with it). The next up creates it again; Quay answers "non-empty database"; the step signs in
        // (session + CSRF) and mints a new superuser token instead of failing.
        const exported = await stack.stack.exportStack();
        const deployment = exported.deployment as { resources: { urn: string }[] };
        // (the expose step runs after initialize, so a run that died there never recorded it either)
        deployment.resources = deployment.resources.filter((r) => !r.urn.endsWith("::quay-initialize") && !r.urn.endsWith("::quay-expose"));
        await stack.stack.importStack(exported);
        const usersBefore = JSON.parse(execFileSync("curl", ["-sS", "-X", "POST", "-H", "Content-Type: application/json", "-d", "{}", `http://${host.host}:8080/api/v1/user/initialize`], { encoding: "utf8" }));
        expect(usersBefore.message).toMatch(/non-empty database/); // so up4 must take the sign-in path
        const up4 = await stack.up();
        expect(up4.steps.filter((s) => s.name === "quay-initialize" || s.name === "quay-expose").map((s) => `${s.name} ${s.op}`)).toEqual(["quay-initialize create", "quay-expose create"]);
        const token2 = String(up4.outputs.bootstrapToken!.value);
        expect(token2).toMatch(/^[A-Z0-9]{40}$/);
        expect(token2).not.toBe(String(token.value));
        const me2 = JSON.parse(execFileSync("curl", ["-sS", "-H", `Authorization: Bearer ${token2}`, `http://${host.host}:8080/api/v1/user/`], { encoding: "utf8" }));
        expect(me2).toMatchObject({ username: "quayadmin", super_user: true });

        // bootstrap.renew replaces the initialize step (triggers), which mints yet another token the same way
        await stack.setConfig("renew", "1");
        const up5 = await stack.up();
        expect(up5.steps.filter((s) => s.name === "quay-initialize").map((s) => s.op)).toEqual(expect.arrayContaining(["create-replacement"]));
        expect(String(up5.outputs.bootstrapToken!.value)).not.toBe(token2);

        // a power cycle brings Quay, PostgreSQL, Redis and UFW back
        await host.reboot();
        expect(await host.sshOk("systemctl is-active postgresql redis-server ufw")).toBe("active\nactive\nactive\n");
        expect(await host.sshOk("sudo ufw status | head -1")).toBe("Status: active\n");
        const back = await host.sshOk("for i in $(seq 1 60); do curl -fsS -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/health/instance && exit 0; sleep 2; done; exit 1");
        expect(back).toBe("200");
        // reachable from the proxy address (this machine) through UFW again, with its data
        const meAfter = JSON.parse(execFileSync("curl", ["-sS", "-H", `Authorization: Bearer ${String(up5.outputs.bootstrapToken!.value)}`, `http://${host.host}:8080/api/v1/user/`], { encoding: "utf8" }));
        expect(meAfter).toMatchObject({ username: "quayadmin", super_user: true });
      },
    );
    // withEngineStack destroyed the stack: purgeOnDestroy removed Quay's config and data
    expect((await host.ssh("test -e /etc/quay/config/config.yaml")).code).not.toBe(0);
    expect(await host.sshOk("systemctl is-enabled quay.service 2>&1 || true")).not.toMatch(/^enabled/);
  });
});
