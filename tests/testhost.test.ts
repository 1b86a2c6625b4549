// The disposable test host itself (scripts/testhost/, tests/support/testhost.ts): boots a Debian 12
// system container, proves it behaves like the real Quay host for what the program does over SSH,
// power-cycles it and checks that teardown leaves nothing behind.
//
// SLOW: 70-105 s (apt installs postgresql, redis, ufw, podman and jq in the guest); about 3.5 minutes
// on a fresh machine, where it also installs the host tools and builds the base. Needs root; skipped, with the reason, only
// on machines that cannot run systemd-nspawn at all.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { startTestHost, TestHost, testHostPrerequisites, testHostScriptsDir } from "./support/testhost";

const prereq = testHostPrerequisites();
const describeHost = prereq.ok ? describe : describe.skip;
if (!prereq.ok) {
  // eslint-disable-next-line no-console
  console.warn(`tests/testhost.test.ts skipped: ${prereq.reason}`);
}

const MIN = 60_000;
// Unique per run so concurrent suites never share a name (1-11 characters).
const name = `th${process.pid % 100000}`;
describeHost("test host (slow: boots a systemd-nspawn guest and installs packages in it)", () => {
  let host: TestHost;
  let guestPid = 0;

  beforeAll(async () => {
    host = await startTestHost(name, { persistent: true });
    guestPid = host.pid;
  }, 15 * MIN);

  afterAll(async () => {
    await host?.stop();
  }, 3 * MIN);

  test("systemd runs as PID 1, ci has passwordless sudo, sshd takes keys only", async () => {
    expect((await host.sshOk("systemctl is-system-running")).trim()).toBe("running");
    expect((await host.sshOk("ps -o comm= -p 1")).trim()).toBe("systemd");
    expect((await host.sshOk("sudo -n id -u")).trim()).toBe("0");
    const sshd = await host.sshOk("sudo sshd -T");
    expect(sshd).toMatch(/^passwordauthentication no$/m);
    expect(sshd).toMatch(/^permitrootlogin no$/m);
    expect(host.privateKey).toMatch(/BEGIN OPENSSH PRIVATE KEY/);
    expect(host.hostKey).toMatch(/^ssh-ed25519 AAAA/);
    // stdin reaches the remote command (how secrets travel)
    expect(await host.sshOk("cat", { stdin: "from stdin\n" })).toBe("from stdin\n");
    const r = await host.ssh("exit 3");
    expect(r.code).toBe(3);
  });

  test("the guest reaches only its veth peer: no default route, the proxy refuses other hosts", async () => {
    expect(await host.sshOk("ip route show default")).toBe("");
    const refused = await host.ssh(`curl -sS -o /dev/null -w '%{http_code}' -x ${host.proxy} http://example.com/`);
    expect(refused.stdout).toBe("403");
  });

  test(
    "apt-get installs postgresql, redis-server, ufw, podman and jq through the proxy",
    async () => {
      const started = Date.now();
      await host.sshOk(
        "sudo DEBIAN_FRONTEND=noninteractive apt-get update -q >/tmp/apt-update.log 2>&1 && " +
          "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql redis-server ufw podman jq >/tmp/apt-install.log 2>&1 " +
          "|| { tail -n 40 /tmp/apt-update.log /tmp/apt-install.log; exit 1; }",
      );
      // eslint-disable-next-line no-console
      console.log(`apt-get install in the test host took ${Math.round((Date.now() - started) / 1000)} s`);
      expect((await host.sshOk("systemctl is-active postgresql redis-server")).trim().split("\n")).toEqual(["active", "active"]);
      expect(await host.sshOk("cd /tmp && sudo -u postgres psql -tAc 'select 1'")).toBe("1\n");
      expect(await host.sshOk("jq -n '1+1'")).toBe("2\n");
      // UFW works in the guest's own network namespace, and SSH stays reachable with it on.
      await host.sshOk("sudo ufw allow 22/tcp && sudo ufw --force enable");
      expect(await host.sshOk("sudo ufw status")).toMatch(/Status: active/);
      expect((await host.sshOk("systemctl is-system-running")).trim()).toBe("running");
    },
    15 * MIN,
  );

  test(
    "podman loads an image archive built on this machine and runs it as a systemd unit",
    async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "qm-image-"));
      try {
        const archive = path.join(dir, "standin.tar");
        const built = spawnSync(
          path.join(testHostScriptsDir, "build-image-archive.sh"),
          ["--out", archive, "--tag", "localhost/quay-standin:test", "--node", process.execPath],
          { encoding: "utf8" },
        );
        expect(built.stderr).toMatch(/wrote/);
        expect(built.status).toBe(0);
        await host.upload(archive, "/tmp/standin.tar");
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
      expect(await host.sshOk("sudo podman load -i /tmp/standin.tar && rm /tmp/standin.tar")).toMatch(
        /Loaded image.*localhost\/quay-standin:test/,
      );
      const unit = [
        "[Unit]",
        "Description=Quay stand-in (test)",
        "After=network-online.target",
        "[Service]",
        "ExecStartPre=-/usr/bin/podman rm -f standin",
        "ExecStart=/usr/bin/podman run --rm --name standin --network host localhost/quay-standin:test",
        "ExecStop=/usr/bin/podman stop -t 10 standin",
        "Restart=on-failure",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
      ].join("\n");
      await host.sshOk("sudo tee /etc/systemd/system/standin.service >/dev/null", { stdin: unit });
      await host.sshOk("sudo systemctl daemon-reload && sudo systemctl enable --now standin.service");
      expect(await waitForHealth(host)).toMatch(/"status_code":200/);
    },
    5 * MIN,
  );

  test(
    "a power cycle keeps the disk, and units enabled with `systemctl enable --now` come back",
    async () => {
      await host.sshOk("echo before-power-cycle | sudo tee /var/lib/power-cycle-marker >/dev/null");
      // /run is a tmpfs of the guest: a real power-off forgets it, the disk keeps the rest.
      await host.sshOk("echo volatile | sudo tee /run/power-cycle-marker >/dev/null");
      const machineIdBefore = (await host.sshOk("cat /etc/machine-id")).trim();
      const started = Date.now();
      await host.reboot();
      // eslint-disable-next-line no-console
      console.log(`power cycle (clean power-off + boot) took ${Math.round((Date.now() - started) / 1000)} s`);
      expect(host.pid).not.toBe(guestPid);
      guestPid = host.pid;
      expect((await host.sshOk("systemctl is-system-running")).trim()).toBe("running");
      expect((await host.sshOk("cat /var/lib/power-cycle-marker")).trim()).toBe("before-power-cycle");
      expect((await host.sshOk("cat /etc/machine-id")).trim()).toBe(machineIdBefore);
      expect((await host.ssh("test -e /run/power-cycle-marker")).code).toBe(1);
      const active = await host.sshOk("systemctl is-active postgresql redis-server ufw standin");
      expect(active.trim().split("\n")).toEqual(["active", "active", "active", "active"]);
      expect(await host.sshOk("sudo ufw status")).toMatch(/Status: active/);
      expect(await waitForHealth(host)).toMatch(/"status_code":200/);
    },
    5 * MIN,
  );

  test(
    "a reboot from inside the guest (systemctl reboot) boots the same disk, with its units",
    async () => {
      await host.sshOk("echo before-reboot | sudo tee /var/lib/reboot-marker >/dev/null");
      const started = Date.now();
      await host.reboot({ inGuest: true });
      // eslint-disable-next-line no-console
      console.log(`in-guest reboot took ${Math.round((Date.now() - started) / 1000)} s`);
      expect((await host.sshOk("cat /var/lib/reboot-marker")).trim()).toBe("before-reboot");
      const active = await host.sshOk("systemctl is-active postgresql redis-server ufw standin");
      expect(active.trim().split("\n")).toEqual(["active", "active", "active", "active"]);
      expect(await waitForHealth(host)).toMatch(/"status_code":200/);
    },
    5 * MIN,
  );

  test(
    "teardown leaves no process, veth, cgroup or state behind",
    async () => {
      expect(guestPid).toBeGreaterThan(0);
      await host.stop();
      expect(running(guestPid)).toBe(false);
      expect(spawnSync("ip", ["link", "show", `ve-${name}`]).status).not.toBe(0);
      const ps = spawnSync("ps", ["-eo", "args"], { encoding: "utf8" }).stdout;
      expect(ps.split("\n").filter((l) => l.includes(`-M ${name} `) || l.includes(`ve-${name}`))).toEqual([]);
      for (const h of ["unified", "systemd", ""]) {
        expect(fs.existsSync(path.join("/sys/fs/cgroup", h, `quay-testhost-${name}`))).toBe(false);
      }
      expect(fs.existsSync(host.stateDir)).toBe(false);
      await host.stop(); // idempotent
    },
    3 * MIN,
  );
});

async function waitForHealth(host: TestHost): Promise<string> {
  let last = "";
  for (let i = 0; i < 60; i++) {
    const r = await host.ssh("curl -sf http://127.0.0.1:8080/health/instance");
    if (r.code === 0) return r.stdout;
    last = r.stderr;
    await new Promise((res) => setTimeout(res, 1000));
  }
  throw new Error(`no /health/instance on the stand-in after 60 s: ${last}`);
}

/** True while the process runs (a zombie waiting to be reaped by the machine's PID 1 does not). */
function running(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(") ") + 2, stat.lastIndexOf(") ") + 3) !== "Z";
  } catch {
    return false;
  }
}
