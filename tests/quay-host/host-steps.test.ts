// Steps that change the host's security state, run for real with bash against stub commands (ufw,
// systemctl, getent, useradd, usermod, podman) in a private PATH directory: nothing on this machine changes.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { renderStep, sha256Hex } from "../../components/quay-host/render";
import { bash, SAMPLE_VALUES } from "./samples";

let dir: string;
let stubs: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "quay-host-steps-"));
  stubs = path.join(dir, "bin");
  fs.mkdirSync(stubs);
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function stub(name: string, body: string): void {
  fs.writeFileSync(path.join(stubs, name), `#!/usr/bin/env bash\n${body}\n`, { mode: 0o755 });
}
function run(script: string, env: Record<string, string> = {}) {
  const e: NodeJS.ProcessEnv = { ...process.env, PATH: `${stubs}:${process.env.PATH}`, ...env };
  delete e.SUDO_UID;
  delete e.SUDO_GID;
  return bash(script, { env: e, cwd: dir });
}
const log = () => (fs.existsSync(path.join(dir, "calls.log")) ? fs.readFileSync(path.join(dir, "calls.log"), "utf8") : "");

// ---- firewall -------------------------------------------------------------------------------------------

/** A ufw that keeps its user rules in $dir/ufw.rules and its state in $dir/ufw.active. */
function fakeUfw(): void {
  stub(
    "ufw",
    `set -euo pipefail
d=${JSON.stringify(dir)}
rules="$d/ufw.rules"; touch "$rules"
echo "ufw $*" >>"$d/calls.log"
force=0; if [ "$1" = --force ]; then force=1; shift; fi
case "$1" in
  show) echo "Added user rules (see 'ufw status' for running firewall):"; if [ -s "$rules" ]; then cat "$rules"; else echo "(None)"; fi ;;
  allow) echo "ufw $*" >>"$rules" ;;
  delete) shift; grep -vxF "ufw $*" "$rules" >"$rules.new" || true; mv "$rules.new" "$rules" ;;
  default) ;;
  enable) touch "$d/ufw.active" ;;
  status) if [ -e "$d/ufw.active" ]; then echo "Status: active"; else echo "Status: inactive"; fi ;;
  *) echo "fake ufw: unexpected $*" >&2; exit 2 ;;
esac`,
  );
  stub("systemctl", `echo "systemctl $*" >>${JSON.stringify(path.join(dir, "calls.log"))}`);
}
const rules = () => fs.readFileSync(path.join(dir, "ufw.rules"), "utf8").trim().split("\n").filter(Boolean).sort();
const firewall = (open: boolean, marker: string) => renderStep("firewall", { ...SAMPLE_VALUES.firewall, MARKER: marker, OPEN: open });
const SSH = "ufw allow 22/tcp";
const PROXY = "ufw allow from 30.30.200.102 to any port 8080 proto tcp";

describe("firewall and expose steps", () => {
  test("bring-up on a fresh host: UFW on with SSH only — 8080 is closed to everyone until the first superuser exists", () => {
    fakeUfw();
    const marker = path.join(dir, "var-lib-quay", ".quay-mirror-initialized");
    const r = run(firewall(false, marker));
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(rules()).toEqual([SSH]);
    expect(fs.existsSync(path.join(dir, "ufw.active"))).toBe(true);
    expect(fs.existsSync(marker)).toBe(false);
    expect(r.stdout).toMatch(/first superuser does not exist yet/);
  });

  test("expose (after initialize) records the marker and admits the proxy; a later firewall run keeps the proxy rule", () => {
    fakeUfw();
    const marker = path.join(dir, "var-lib-quay", ".quay-mirror-initialized");
    expect(run(firewall(false, marker)).status).toBe(0);
    const open = run(firewall(true, marker));
    expect(open.stderr).toBe("");
    expect(open.status).toBe(0);
    expect(rules()).toEqual([PROXY, SSH].sort());
    expect(fs.existsSync(marker)).toBe(true);
    // a second up on an initialized host that re-runs the firewall step (say the SSH port changed) keeps 8080 open
    const again = run(firewall(false, marker));
    expect(again.status).toBe(0);
    expect(rules()).toEqual([PROXY, SSH].sort());
    // and the expose step again changes nothing
    expect(run(firewall(true, marker)).stdout).toMatch(/rules unchanged/);
  });

  test("a host where initialize never succeeded stays closed: a stale proxy rule is removed by the firewall step", () => {
    fakeUfw();
    fs.writeFileSync(path.join(dir, "ufw.rules"), `${SSH}\n${PROXY}\n`);
    fs.writeFileSync(path.join(dir, "ufw.active"), "");
    const r = run(firewall(false, path.join(dir, "no-marker")));
    expect(r.status).toBe(0);
    expect(rules()).toEqual([SSH]);
    expect(r.stdout).toContain(`deleted: ${PROXY}`);
  });
});

// ---- the container account (UID 1001) ------------------------------------------------------------------

function fakeAccounts(passwd: string): void {
  fs.writeFileSync(path.join(dir, "passwd"), passwd);
  const db = JSON.stringify(path.join(dir, "passwd"));
  const calls = JSON.stringify(path.join(dir, "calls.log"));
  stub("getent", `[ "$1" = passwd ] || exit 2\nawk -F: -v k="$2" '$1 == k || $3 == k { print; found = 1 } END { exit found ? 0 : 2 }' ${db}`);
  stub("useradd", `echo "useradd $*" >>${calls}\nname="\${@: -1}"\nprintf '%s:x:1001:999::/nonexistent:/usr/sbin/nologin\\n' "$name" >>${db}`);
  stub("usermod", `echo "usermod $*" >>${calls}`);
}
const account = () => renderStep("account", { CONTAINER_UID: 1001, CONTAINER_USER: "quay-container" });

describe("account step: UID 1001 is reserved for Quay's container", () => {
  test("a free UID 1001 becomes the nologin system account quay-container", () => {
    fakeAccounts("root:x:0:0:root:/root:/bin/bash\ndebian:x:1000:1000::/home/debian:/bin/bash\n");
    const r = run(account());
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(log()).toMatch(/^useradd --system --uid 1001 .*--shell \/usr\/sbin\/nologin .*quay-container$/m);
    expect(r.stdout).toMatch(/UID 1001 reserved for Quay's container \(quay-container, no login\)/);
    // a re-run finds it and changes nothing
    fs.rmSync(path.join(dir, "calls.log"));
    const again = run(account());
    expect(again.status).toBe(0);
    expect(log()).toBe("");
  });

  test("a login user holding UID 1001 stops the bring-up with the reason and the fix", () => {
    fakeAccounts("root:x:0:0:root:/root:/bin/bash\nalice:x:1001:1001:Alice:/home/alice:/bin/bash\n");
    const r = run(account());
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/UID 1001 belongs to the account alice \(shell \/bin\/bash\).*could read config\.yaml.*— fix: give alice another UID \(usermod -u/s);
    expect(log()).not.toContain("useradd");
  });

  test("another system account on UID 1001, or quay-container on another UID, is refused too", () => {
    fakeAccounts("svc:x:1001:1001::/var/lib/svc:/usr/sbin/nologin\n");
    expect(run(account()).stderr).toMatch(/UID 1001 belongs to the account svc/);
    fakeAccounts("quay-container:x:1002:1002::/nonexistent:/usr/sbin/nologin\n");
    const r = run(account());
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/quay-container exists with UID 1002, not 1001/);
  });

  test("quay-container given a login shell by hand is locked down again", () => {
    fakeAccounts("quay-container:x:1001:999::/nonexistent:/bin/bash\n");
    const r = run(account());
    expect(r.status).toBe(0);
    expect(log()).toMatch(/^usermod --shell \/usr\/sbin\/nologin --lock quay-container$/m);
  });
});

// ---- the image archive is checked before podman loads it -------------------------------------------------

function fakePodman(): void {
  const calls = JSON.stringify(path.join(dir, "calls.log"));
  stub(
    "podman",
    `echo "podman $*" >>${calls}
case "$1 $2" in
  "image exists") exit 1 ;;
  "image inspect") echo sha256:0123456789abcdef0123 ;;
  "load -i") echo "Loaded image: localhost/quay-standin:e2e" ;;
  *) ;;
esac`,
  );
}

describe("image step (archive)", () => {
  const content = "an image archive";
  const sha = sha256Hex(content);
  const image = (file: string) => renderStep("image", { MODE: "archive", SOURCE: file, LOCAL_REF: "localhost/quay-mirror/quay:v3.18.0-archive-0123456789ab", SHA256: sha });

  test("loads the archive when its sha256 is the local file's", () => {
    fakePodman();
    const file = path.join(dir, "quay-image.tar");
    fs.writeFileSync(file, content);
    const r = run(image(file));
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(log()).toContain(`podman load -i ${file}`);
  });

  test("refuses an archive whose content differs, and never loads it", () => {
    fakePodman();
    const file = path.join(dir, "quay-image.tar");
    fs.writeFileSync(file, "something else");
    const r = run(image(file));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/has sha256 [0-9a-f]{12}…, expected [0-9a-f]{12}…; refusing to load it/);
    expect(log()).not.toContain("podman load");
  });

  test("refuses a symbolic link in place of the upload", () => {
    fakePodman();
    const real = path.join(dir, "real.tar");
    fs.writeFileSync(real, content);
    const file = path.join(dir, "quay-image.tar");
    fs.symlinkSync(real, file);
    const r = run(image(file));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/is not a regular file/);
    expect(log()).not.toContain("podman load");
  });
});

// ---- the upload directory ---------------------------------------------------------------------------------

describe("wait step: the private upload directory", () => {
  const wait = (uploadDir: string) => renderStep("wait-for-ssh", { BOOT_TIMEOUT: 5, UPLOAD_DIR: uploadDir });
  const asRoot = typeof process.getuid === "function" && process.getuid() === 0;
  beforeEach(() => stub("systemctl", `case "$1" in is-system-running) echo running ;; *) ;; esac`));

  test("is created 0700 for the SSH user under a root-owned parent that nobody else can write", () => {
    const upload = path.join(dir, "lib", "quay-mirror", "upload");
    fs.mkdirSync(path.join(dir, "lib"), { mode: 0o755 });
    const r = run(wait(upload));
    expect(r.status).toBe(0);
    expect(fs.statSync(upload).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.dirname(upload)).mode & 0o777).toBe(0o755);
    expect(fs.statSync(upload).uid).toBe(process.getuid!());
    expect(run(wait(upload)).status).toBe(0); // a re-run accepts its own directory
  });

  test("refuses a symbolic link, a directory with group/other access, and a parent others can write", () => {
    const parent = path.join(dir, "p");
    fs.mkdirSync(parent, { mode: 0o755 });
    const upload = path.join(parent, "upload");
    fs.symlinkSync(dir, upload);
    expect(run(wait(upload)).stderr).toMatch(/is a symbolic link; refusing to use it/);
    fs.unlinkSync(upload);
    fs.mkdirSync(upload, { mode: 0o777 });
    fs.chmodSync(upload, 0o777);
    const loose = run(wait(upload));
    expect(loose.status).not.toBe(0);
    expect(loose.stderr).toMatch(/has mode 777 .*— fix: remove it/);
    fs.rmdirSync(upload);
    fs.chmodSync(parent, 0o1777);
    const shared = run(wait(upload));
    expect(shared.status).not.toBe(0);
    expect(shared.stderr).toMatch(/can be written by users other than root .*— fix/);
    expect(fs.existsSync(upload)).toBe(false);
  });

  (asRoot ? test : test.skip)("refuses a directory someone else created (it may hold their files and links)", () => {
    const parent = path.join(dir, "q");
    fs.mkdirSync(parent, { mode: 0o755 });
    const upload = path.join(parent, "upload");
    fs.mkdirSync(upload, { mode: 0o700 });
    fs.chownSync(upload, 65534, 65534);
    const r = run(wait(upload));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/belongs to UID 65534, not to the SSH user \(UID 0\).*— fix: remove it/);
  });
});
