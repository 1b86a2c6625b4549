// The emulator's OCI registry (tests/emulator/routes/distribution.ts) through a real HTTP client: tokens from
// /v2/auth with Quay's grants, push (chunked and monolithic) and pull by tag and digest, nested names,
// repositories created on push with the pusher as admin and the organization's default permissions,
// denials, tags list, Quay's error codes; and GET /api/v1/entities/{prefix}.
import * as net from "node:net";
import { QuayEmulator, startQuayEmulator } from "./emulator";
import { Credential, DOCKER_MANIFEST, makeImage, OCI_INDEX, OciClient, sha256 } from "./support/oci-client";

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

let emu: QuayEmulator;
let oci: OciClient;
let host: string;
let api: (method: string, p: string, body?: unknown) => Promise<{ status: number; body: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any
let robot: Credential;
let puller: Credential;

beforeAll(async () => {
  const port = await freePort();
  host = `127.0.0.1:${port}`;
  emu = await startQuayEmulator({
    port,
    config: {
      FEATURE_USER_INITIALIZE: true,
      FEATURE_MAILING: false,
      SUPER_USERS: ["quayadmin"],
      FEATURE_EXTENDED_REPOSITORY_NAMES: true,
      SERVER_HOSTNAME: host,
      PREFERRED_URL_SCHEME: "http",
    },
  });
  const { token } = await emu.initialize();
  api = async (method, p, body) => {
    const r = await fetch(emu.url + p, { method, headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : undefined };
  };
  for (const org of ["alpha", "beta"]) expect((await api("POST", "/api/v1/organization/", { name: org, email: `${org}@example.com` })).status).toBe(201);
  const r = await api("PUT", "/api/v1/organization/alpha/robots/mirror", {});
  expect(r.status).toBe(201);
  robot = { username: "alpha+mirror", password: r.body.token };
  expect((await api("PUT", "/api/v1/organization/alpha/team/pushers", { role: "creator" })).status).toBe(200);
  expect((await api("PUT", "/api/v1/organization/alpha/team/pushers/members/alpha+mirror")).status).toBe(200);
  const u = await api("POST", "/api/v1/superuser/users/", { username: "puller", email: "puller@example.com" });
  expect(u.status).toBe(200);
  puller = { username: "puller", password: u.body.password };
  expect((await api("POST", "/api/v1/organization/alpha/prototypes", { role: "read", delegate: { name: "puller", kind: "user" } })).status).toBe(200);
  expect((await api("POST", "/api/v1/repository", { namespace: "beta", repository: "private", visibility: "private", description: "" })).status).toBe(201);
  oci = new OciClient(emu.url, host);
});
afterAll(async () => {
  await emu?.close();
});

test("without a token: 401 UNAUTHORIZED with the realm and the scope to ask for; a token Quay did not sign: 401", async () => {
  for (const [method, p, scope] of [
    ["GET", "/v2/alpha/x/manifests/latest", "pull"],
    ["GET", "/v2/alpha/x/tags/list", "pull"],
    ["POST", "/v2/alpha/x/blobs/uploads/", "pull,push"],
  ] as const) {
    const r = await oci.req(method, p);
    expect({ p, status: r.status, body: r.json }).toEqual({ p, status: 401, body: { errors: [{ code: "UNAUTHORIZED", detail: {}, message: "access to the requested resource is not authorized" }] } });
    expect(r.headers.get("www-authenticate")).toBe(`Bearer realm="http://${host}/v2/auth",service="${host}",scope="repository:alpha/x:${scope}"`);
    expect(r.headers.get("docker-distribution-api-version")).toBe("registry/2.0");
  }
  const forged = await oci.req("GET", "/v2/alpha/x/manifests/latest", { token: "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln" });
  expect(forged.status).toBe(401);
  expect(forged.json.error).toMatch(/^Invalid bearer token/);
  const basic = await oci.req("GET", "/v2/alpha/x/manifests/latest", { headers: { Authorization: `Basic ${Buffer.from(`${robot.username}:${robot.password}`).toString("base64")}` } });
  expect(basic.status).toBe(401);
});

test("the mirror robot pushes to a nested path in chunks; the repository is created with the robot as admin and the prototype's grant; the pull user pulls by tag and by digest", async () => {
  const repo = "alpha/openshift/release-images";
  const token = await oci.token(robot, repo, "push,pull");
  const img = makeImage([70_000, 300]);
  const pushed = await oci.push(token, repo, img, "4.16.1", 16_384);
  expect({ status: pushed.status, text: pushed.text }).toEqual({ status: 201, text: "OK" });
  expect(pushed.headers.get("docker-content-digest")).toBe(img.digest);
  expect(pushed.headers.get("location")).toBe(`/v2/${repo}/manifests/${img.digest}`);
  expect(pushed.headers.get("content-type")).toBe("text/html; charset=utf-8");

  const perms = await api("GET", `/api/v1/repository/${repo}/permissions/user/`);
  expect(perms.status).toBe(200);
  expect(Object.fromEntries(Object.entries(perms.body.permissions).map(([k, v]) => [k, (v as { role: string }).role]))).toEqual({ "alpha+mirror": "admin", puller: "read" });

  const pullToken = await oci.token(puller, repo, "pull");
  for (const ref of ["4.16.1", img.digest]) {
    const got = await oci.pull(pullToken, repo, ref);
    expect(got.failure).toBeUndefined();
    expect(got.manifest.bytes.equals(img.manifest)).toBe(true);
    expect(got.manifest.headers.get("content-type")).toBe(img.mediaType);
    expect(got.manifest.headers.get("docker-content-digest")).toBe(img.digest);
    expect([...got.blobs.values()].map(sha256)).toEqual([img.config, ...img.layers].map(sha256));
  }
  const head = await oci.req("HEAD", `/v2/${repo}/blobs/${sha256(img.layers[0])}`, { token: pullToken });
  expect(head.status).toBe(200);
  expect(head.headers.get("content-length")).toBe("70000");
  expect(head.headers.get("docker-content-digest")).toBe(sha256(img.layers[0]));
  const headManifest = await oci.req("HEAD", `/v2/${repo}/manifests/4.16.1`, { token: pullToken });
  expect(headManifest.status).toBe(200);
  expect(headManifest.bytes.length).toBe(0);
  expect(headManifest.headers.get("docker-content-digest")).toBe(img.digest);

  // the API's repository view lists the tag as Quay's Tag.to_dict does
  const view = await api("GET", `/api/v1/repository/${repo}`);
  expect(view.body.tags).toEqual({ "4.16.1": { name: "4.16.1", size: 70_300, last_modified: expect.stringMatching(/^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} -0000$/), manifest_digest: img.digest } });
  expect((await api("GET", `/api/v1/repository/${repo}?includeTags=false`)).body.tags).toBeUndefined();

  // the pull user's token does not carry push: uploading is refused
  const noPush = await oci.token(puller, repo, "push,pull");
  const refused = await oci.req("POST", `/v2/${repo}/blobs/uploads/`, { token: noPush });
  expect(refused.status).toBe(401);
  expect(refused.json.errors[0].code).toBe("UNAUTHORIZED");
});

test("the same robot is denied another namespace: /v2/auth grants nothing, and its tokens are refused there", async () => {
  for (const repo of ["beta/private", "beta/new/nested"]) {
    const token = await oci.token(robot, repo, "push,pull");
    const payload = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8"));
    expect(payload.access).toEqual([{ type: "repository", name: repo, actions: [] }]);
    const r = await oci.push(token, repo, makeImage([10]), "latest");
    expect(r.status).toBe(401);
    expect(r.json.errors[0].code).toBe("UNAUTHORIZED");
    expect(r.headers.get("www-authenticate")).toContain(`scope="repository:${repo}:pull,push"`);
  }
  // a token for alpha does not open beta
  const alphaToken = await oci.token(robot, "alpha/openshift/release-images", "push,pull");
  expect((await oci.req("GET", "/v2/beta/private/tags/list", { token: alphaToken })).status).toBe(401);
  expect((await api("GET", "/api/v1/repository/beta/new/nested")).status).toBe(404);
});

test("monolithic pushes, Docker schema 2 and an index by digest and tag; tags list in order with pagination", async () => {
  const repo = "alpha/multi";
  const token = await oci.token(robot, repo, "push,pull");
  const amd = makeImage([100], DOCKER_MANIFEST);
  const arm = makeImage([120], DOCKER_MANIFEST);
  for (const img of [amd, arm]) {
    const r = await oci.push(token, repo, img, img.digest);
    expect(r.status).toBe(201);
  }
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [amd, arm].map((m, i) => ({ mediaType: DOCKER_MANIFEST, digest: m.digest, size: m.manifest.length, platform: { architecture: ["amd64", "arm64"][i], os: "linux" } })),
    }),
  );
  for (const tag of ["v2", "v1", "latest", "v10"]) {
    const r = await oci.req("PUT", `/v2/${repo}/manifests/${tag}`, { token, body: index, headers: { "Content-Type": OCI_INDEX } });
    expect(r.status).toBe(201);
    expect(r.headers.get("docker-content-digest")).toBe(sha256(index));
  }
  const got = await oci.req("GET", `/v2/${repo}/manifests/latest`, { token });
  expect(got.headers.get("content-type")).toBe(OCI_INDEX);
  expect(got.bytes.equals(index)).toBe(true);
  const child = await oci.req("GET", `/v2/${repo}/manifests/${arm.digest}`, { token });
  expect(child.headers.get("content-type")).toBe(DOCKER_MANIFEST);

  const all = await oci.req("GET", `/v2/${repo}/tags/list`, { token });
  expect(all.json).toEqual({ name: repo, tags: ["latest", "v1", "v10", "v2"] });
  const page = await oci.req("GET", `/v2/${repo}/tags/list?n=2`, { token });
  expect(page.json.tags).toEqual(["latest", "v1"]);
  expect(page.headers.get("link")).toBe(`<http://${host}/v2/${repo}/tags/list?n=2&last=v1>; rel="next"`);
  const next = await oci.req("GET", `/v2/${repo}/tags/list?n=2&last=v1`, { token });
  expect(next.json.tags).toEqual(["v10", "v2"]);
  expect(next.headers.get("link")).toBeNull();

  // an index naming a manifest the repository does not have
  const bad = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: DOCKER_MANIFEST, digest: sha256(Buffer.from("x")), size: 1 }] }));
  const r = await oci.req("PUT", `/v2/${repo}/manifests/bad`, { token, body: bad, headers: { "Content-Type": OCI_INDEX } });
  expect(r.status).toBe(400);
  expect(r.json.errors[0].code).toBe("MANIFEST_INVALID");
});

test("Quay's errors: unknown manifest, blob, upload and repository; digest mismatches; a manifest naming a blob never pushed; a chunk out of order", async () => {
  const repo = "alpha/errors";
  const token = await oci.token(robot, repo, "push,pull");
  const code = (r: { status: number; json: { errors: { code: string }[] } }) => [r.status, r.json.errors[0].code];
  expect(code(await oci.req("GET", `/v2/${repo}/manifests/nope`, { token }))).toEqual([404, "MANIFEST_UNKNOWN"]);
  expect(code(await oci.req("GET", `/v2/${repo}/blobs/${sha256(Buffer.from("none"))}`, { token }))).toEqual([404, "BLOB_UNKNOWN"]);
  expect(code(await oci.req("PATCH", `/v2/${repo}/blobs/uploads/00000000-0000-0000-0000-000000000000`, { token, body: "x" }))).toEqual([404, "BLOB_UPLOAD_UNKNOWN"]);
  const data = Buffer.from("some bytes");
  expect(code(await oci.req("POST", `/v2/${repo}/blobs/uploads/?digest=${sha256(Buffer.from("other"))}`, { token, body: data }))).toEqual([400, "BLOB_UPLOAD_INVALID"]);
  const img = makeImage([50]);
  // the config is uploaded, the layer is not
  expect((await oci.uploadBlob(token, repo, img.config)).status).toBe(201);
  const missing = await oci.req("PUT", `/v2/${repo}/manifests/latest`, { token, body: img.manifest, headers: { "Content-Type": img.mediaType } });
  expect(missing.status).toBe(400);
  expect(missing.json.errors[0]).toEqual({ code: "MANIFEST_INVALID", detail: { message: `Unknown blob \`${sha256(img.layers[0])}\`` }, message: "manifest invalid" });
  expect((await oci.uploadBlob(token, repo, img.layers[0])).status).toBe(201);
  const wrongDigest = await oci.req("PUT", `/v2/${repo}/manifests/${sha256(Buffer.from("not it"))}`, { token, body: img.manifest, headers: { "Content-Type": img.mediaType } });
  expect(wrongDigest.json.errors[0]).toEqual({ code: "MANIFEST_INVALID", detail: { message: "manifest digest mismatch" }, message: "manifest invalid" });
  const schema1 = await oci.req("PUT", `/v2/${repo}/manifests/latest`, { token, body: img.manifest, headers: { "Content-Type": "application/json" } });
  expect(code(schema1)).toEqual([400, "MANIFEST_INVALID"]);
  expect((await oci.req("PUT", `/v2/${repo}/manifests/latest`, { token, body: img.manifest, headers: { "Content-Type": img.mediaType } })).status).toBe(201);

  // a chunk that does not start where the upload ends: 416 with the range the registry has
  const start = await oci.req("POST", `/v2/${repo}/blobs/uploads/`, { token });
  expect(start.status).toBe(202);
  const loc = start.headers.get("location")!;
  expect(loc).toMatch(new RegExp(`^http://${host}/v2/${repo}/blobs/uploads/[0-9a-f-]{36}$`));
  expect(start.headers.get("range")).toBe("bytes=0--1"); // Quay's _render_range(0)
  expect((await oci.req("PATCH", loc, { token, body: "abcd", headers: { "Content-Range": "0-3" } })).status).toBe(202);
  const status = await oci.req("GET", loc, { token });
  expect([status.status, status.headers.get("range"), status.headers.get("docker-upload-uuid")]).toEqual([204, "bytes=0-4", loc.split("/").pop()]);
  const gap = await oci.req("PATCH", loc, { token, body: "efgh", headers: { "Content-Range": "10-13" } });
  expect(gap.status).toBe(416);
  expect(gap.headers.get("range")).toBe("0-3");
  const done = await oci.req("PUT", `${loc}?digest=${sha256(Buffer.from("abcdefgh"))}`, { token, body: "efgh", headers: { "Content-Range": "4-7" } });
  expect(done.status).toBe(201);
  expect((await oci.req("GET", `/v2/${repo}/blobs/${sha256(Buffer.from("abcdefgh"))}`, { token })).text).toBe("abcdefgh");
  expect(code(await oci.req("PUT", loc + "?digest=" + sha256(Buffer.from("abcdefgh")), { token }))).toEqual([404, "BLOB_UPLOAD_UNKNOWN"]);
  expect(code(await oci.req("DELETE", `/v2/${repo}/blobs/${sha256(Buffer.from("abcdefgh"))}`, { token }))).toEqual([405, "UNSUPPORTED"]);
});

test("a cross-repository mount links a blob the token may read; otherwise the upload starts", async () => {
  const src = "alpha/openshift/release-images";
  const dst = "alpha/mounted";
  const tags = await oci.req("GET", `/v2/${src}/manifests/4.16.1`, { token: await oci.token(robot, src, "pull") });
  const layer = (tags.json as { layers: { digest: string }[] }).layers[1].digest;
  const res = await fetch(`${emu.url}/v2/auth?service=${host}&scope=${encodeURIComponent(`repository:${dst}:push,pull`)}&scope=${encodeURIComponent(`repository:${src}:pull`)}`, {
    headers: { Authorization: `Basic ${Buffer.from(`${robot.username}:${robot.password}`).toString("base64")}` },
  });
  const both = ((await res.json()) as { token: string }).token;
  const mounted = await oci.req("POST", `/v2/${dst}/blobs/uploads/?mount=${layer}&from=${src}`, { token: both });
  expect(mounted.status).toBe(201);
  expect(mounted.headers.get("docker-content-digest")).toBe(layer);
  expect((await oci.req("HEAD", `/v2/${dst}/blobs/${layer}`, { token: both })).status).toBe(200);
  // without read on the source, a plain upload starts
  const dstOnly = await oci.token(robot, "alpha/mounted2", "push,pull");
  const plain = await oci.req("POST", `/v2/alpha/mounted2/blobs/uploads/?mount=${layer}&from=${src}`, { token: dstOnly });
  expect(plain.status).toBe(202);
  expect((await oci.req("HEAD", `/v2/alpha/mounted2/blobs/${layer}`, { token: dstOnly })).status).toBe(404);
});

test("GET /api/v1/entities/{prefix}: users by prefix, the org's robots and teams for a member, as search.py answers", async () => {
  const users = await api("GET", "/api/v1/entities/pul");
  expect(users.status).toBe(200);
  expect(users.body.results).toEqual([{ name: "puller", kind: "user", is_robot: false, avatar: expect.objectContaining({ name: "puller", kind: "user" }) }]);
  const inOrg = await api("GET", "/api/v1/entities/p?namespace=alpha&includeTeams=true");
  expect(inOrg.body.results.map((e: { name: string; kind: string }) => `${e.kind}:${e.name}`)).toEqual(["team:pushers", "user:puller"]);
  const robots = await api("GET", "/api/v1/entities/mir?namespace=alpha");
  expect(robots.body.results).toEqual([{ name: "alpha+mirror", kind: "user", is_robot: true, is_org_member: true, avatar: expect.objectContaining({ kind: "robot" }) }]);
  const exact = await api("GET", "/api/v1/entities/Puller");
  expect(exact.body.results.map((e: { name: string }) => e.name)).toEqual(["puller"]);
  expect((await api("GET", "/api/v1/entities/zzz")).body).toEqual({ results: [] });
  // anonymous callers are served too (no scope is required), but see no robots
  const anon = await fetch(`${emu.url}/api/v1/entities/mir?namespace=alpha`);
  expect(await anon.json()).toEqual({ results: [] });
});
