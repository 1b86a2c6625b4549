// A real client (Debian's skopeo) pushes and pulls through the emulator's registry as it would through
// Quay behind its TLS proxy: a token from the realm Quay announces, blob uploads, manifests; a push to
// another namespace with the same robot is refused. (The lab-full end-to-end run does the same against
// the stand-in on a test host with its blobs in MinIO.)
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { QuayEmulator, startQuayEmulator } from "./emulator";
import { buildOciLayout, skopeo, startTlsFront, TlsFront, writeAuthFile } from "./support/skopeo";

jest.setTimeout(120_000);
const HOSTNAME = "quay.test.example";

let emu: QuayEmulator;
let front: TlsFront;
let dir: string;
let robotAuth: string;
let pullAuth: string;

const dockerConfig = (username: string, password: string) => JSON.stringify({ auths: { [HOSTNAME]: { auth: Buffer.from(`${username}:${password}`).toString("base64") } } });

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "qm-skopeo-"));
  emu = await startQuayEmulator({
    config: { FEATURE_USER_INITIALIZE: true, FEATURE_MAILING: false, SUPER_USERS: ["quayadmin"], SERVER_HOSTNAME: HOSTNAME, PREFERRED_URL_SCHEME: "https", CREATE_NAMESPACE_ON_PUSH: true },
  });
  const { token } = await emu.initialize();
  const api = async (method: string, p: string, body?: unknown) => {
    const r = await fetch(emu.url + p, { method, headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : undefined };
  };
  for (const org of ["mirror", "platform"]) expect((await api("POST", "/api/v1/organization/", { name: org, email: `${org}@example.com` })).status).toBe(201);
  const robot = await api("PUT", "/api/v1/organization/mirror/robots/push", {});
  expect((await api("PUT", "/api/v1/organization/mirror/team/creators", { role: "creator" })).status).toBe(200);
  expect((await api("PUT", "/api/v1/organization/mirror/team/creators/members/mirror+push")).status).toBe(200);
  const user = await api("POST", "/api/v1/superuser/users/", { username: "cluster_pull", email: "pull@example.com" });
  expect((await api("POST", "/api/v1/organization/mirror/prototypes", { role: "read", delegate: { name: "cluster_pull", kind: "user" } })).status).toBe(200);
  robotAuth = writeAuthFile(path.join(dir, "robot.json"), dockerConfig("mirror+push", robot.body.token));
  pullAuth = writeAuthFile(path.join(dir, "pull.json"), dockerConfig("cluster_pull", user.body.password));
  front = await startTlsFront(dir, HOSTNAME, emu.url);
});
afterAll(async () => {
  await front?.stop();
  await emu?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test("skopeo pushes an OCI image to a nested path with the robot, is refused another namespace, and pulls it back with the pull user", async () => {
  const img = buildOciLayout(dir, "v1");
  const run = (args: string[]) => skopeo(dir, HOSTNAME, front.address, args);
  const push = await run(["copy", "--dest-authfile", robotAuth, "--dest-tls-verify=false", img.ref, `docker://${HOSTNAME}/mirror/e2e/tiny:v1`]);
  expect({ code: push.code, stderr: push.stderr }).toEqual({ code: 0, stderr: "" });

  const denied = await run(["copy", "--dest-authfile", robotAuth, "--dest-tls-verify=false", img.ref, `docker://${HOSTNAME}/platform/tiny:v1`]);
  expect(denied.code).not.toBe(0);
  expect(denied.stderr).toMatch(/platform\/tiny: unauthorized: authentication required/);

  const out = path.join(dir, "pulled");
  const pull = await run(["copy", "--src-authfile", pullAuth, "--src-tls-verify=false", `docker://${HOSTNAME}/mirror/e2e/tiny:v1`, `oci:${out}:v1`]);
  expect({ code: pull.code, stderr: pull.stderr }).toEqual({ code: 0, stderr: "" });
  const index = JSON.parse(fs.readFileSync(path.join(out, "index.json"), "utf8")) as { manifests: { digest: string }[] };
  expect(index.manifests.map((m) => m.digest)).toEqual([img.manifestDigest]);
  for (const b of img.blobs) expect(fs.existsSync(path.join(out, "blobs", "sha256", b.slice(7)))).toBe(true);

  const tags = await run(["list-tags", "--authfile", pullAuth, "--tls-verify=false", `docker://${HOSTNAME}/mirror/e2e/tiny`]);
  expect(tags.code).toBe(0);
  expect(JSON.parse(tags.stdout)).toEqual({ Repository: `${HOSTNAME}/mirror/e2e/tiny`, Tags: ["v1"] });
});
