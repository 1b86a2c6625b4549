import * as http from "http";
import { AddressInfo } from "net";
import { QuayApiError, QuayClient, apiPath, backoffDelay, readQuayMessage, repoPath } from "../providers/quay/client";
import { QuayFixture, startQuay, uniqueName } from "./support/quay";

const fast = { backoffBaseMs: 5, backoffMaxMs: 20 };

describe("QuayClient against the emulator", () => {
  let quay: QuayFixture;
  let client: QuayClient;
  beforeAll(async () => {
    quay = await startQuay();
    client = new QuayClient({ endpoint: quay.emulator.url, token: quay.connection.token, ...fast });
  });
  afterAll(async () => quay.close());
  afterEach(() => quay.emulator.faults.clear());

  it.each([500, 502, 503, 429])("retries a GET answered %i and then succeeds", async (status) => {
    quay.emulator.faults.add({ method: "GET", path: "/api/v1/user/", status, count: 2 });
    quay.emulator.counter.reset();
    const { status: ok, body } = await client.get<{ username: string }>("/api/v1/user/");
    expect(ok).toBe(200);
    expect(body.username).toBe("quayadmin");
    expect(quay.emulator.counter.total()).toBe(3);
  });

  it("retries a GET whose connection was reset", async () => {
    quay.emulator.faults.add({ method: "GET", path: "/api/v1/user/", reset: true, count: 2 });
    const { status } = await client.get("/api/v1/user/");
    expect(status).toBe(200);
  });

  it("gives up after the configured retries with the last status", async () => {
    const limited = new QuayClient({ endpoint: quay.emulator.url, token: quay.connection.token, retries: 2, ...fast });
    quay.emulator.faults.add({ method: "GET", path: "/api/v1/user/", status: 502, count: 10 });
    quay.emulator.counter.reset();
    await expect(limited.get("/api/v1/user/")).rejects.toMatchObject({ name: "QuayApiError", status: 502, ambiguous: true });
    expect(quay.emulator.counter.total()).toBe(3);
  });

  it("never repeats a non-idempotent write after a 500 or a reset: the outcome is reported as ambiguous", async () => {
    for (const fault of [{ status: 500 }, { reset: true }]) {
      quay.emulator.faults.add({ method: "POST", path: "/api/v1/organization/", count: 1, ...fault });
      quay.emulator.counter.reset();
      const err = await client.post("/api/v1/organization/", { name: uniqueName("unsafe") }).catch((e) => e);
      expect(err).toBeInstanceOf(QuayApiError);
      expect(err.ambiguous).toBe(true);
      expect(quay.emulator.counter.total()).toBe(1);
    }
  });

  it("repeats a write refused with 429 or 503 (refused before Quay acted)", async () => {
    quay.emulator.faults.add({ method: "POST", path: "/api/v1/organization/", status: 429, count: 1 });
    quay.emulator.faults.add({ method: "POST", path: "/api/v1/organization/", status: 503, count: 1 });
    quay.emulator.counter.reset();
    const { status } = await client.post("/api/v1/organization/", { name: uniqueName("refused") });
    expect(status).toBe(201);
    expect(quay.emulator.counter.total()).toBe(3);
  });

  it("repeats writes the caller marks idempotent", async () => {
    const org = uniqueName("idem");
    await client.post("/api/v1/organization/", { name: org });
    quay.emulator.faults.add({ method: "PUT", path: new RegExp(`/team/`), status: 500, count: 2 });
    const { status } = await client.put(apiPath`/organization/${org}/team/${"readers"}`, { role: "member" }, { idempotent: true });
    expect(status).toBe(200);
  });

  it("reads Quay's message from each error body shape", async () => {
    // A: problem JSON (404 on a missing org)
    const a = await client.get(apiPath`/organization/${"nosuchorg"}`).catch((e) => e);
    expect(a).toMatchObject({ status: 404, quayMessage: "Not Found", errorType: "not_found" });
    expect(a.message).toBe("Quay API GET /api/v1/organization/nosuchorg failed: 404 Not Found");
    // B: {"message"} (400 on a missing robot)
    const b = await client.get(apiPath`/organization/${"nosuchorg"}/robots/${"x"}`).catch((e) => e);
    expect(b.quayMessage).toMatch(/Could not find robot|Not Found|Unauthorized/);
    // D: {"error"} (anonymous write)
    const anon = new QuayClient({ endpoint: quay.emulator.url, retries: 0 });
    const d = await anon.post("/api/v1/organization/", { name: "anon" }).catch((e) => e);
    expect(d).toMatchObject({ status: 403, quayMessage: expect.stringMatching(/^CSRF token was invalid or missing\./) });
  });

  it("reads every documented body shape, including plain text", () => {
    expect(readQuayMessage({ detail: "d", error_message: "e", error_type: "invalid_request" })).toBe("d");
    expect(readQuayMessage({ error_message: "only" })).toBe("only");
    expect(readQuayMessage({ message: "Could not find robot with specified username" })).toBe("Could not find robot with specified username");
    expect(readQuayMessage({ error: "CSRF token was invalid or missing." })).toBe("CSRF token was invalid or missing.");
    expect(readQuayMessage({ message: "System is currently in read-only mode", is_readonly: true })).toMatch(/read-only/);
    expect(readQuayMessage({ errors: [{ code: "UNAUTHORIZED", message: "Invalid Username or Password" }] })).toBe("Invalid Username or Password");
    expect(readQuayMessage("  Too Many Requests\n")).toBe("Too Many Requests");
  });

  it("paginates a namespace of 250 repositories with next_page", async () => {
    const org = uniqueName("page");
    await client.post("/api/v1/organization/", { name: org });
    for (let i = 0; i < 250; i++) {
      await client.post("/api/v1/repository", { namespace: org, repository: `r/${String(i).padStart(3, "0")}`, visibility: "private", description: "" });
    }
    quay.emulator.counter.reset();
    const repos = await client.paginate<{ name: string }>("/api/v1/repository", "repositories", { namespace: org });
    expect(repos).toHaveLength(250);
    expect(new Set(repos.map((r) => r.name)).size).toBe(250);
    expect(repos[249].name).toBe("r/249");
    expect(quay.emulator.counter.total()).toBe(3);
  });

  it("keeps slashes raw in nested repository paths and '+' literal in robot names", async () => {
    expect(repoPath("openshift-release", "openshift/release-images")).toBe("openshift-release/openshift/release-images");
    expect(apiPath`/repository/${"ns"}/x/permissions/user/${"ns+robot"}`).toBe("/api/v1/repository/ns/x/permissions/user/ns+robot");
    const org = uniqueName("nest");
    await client.post("/api/v1/organization/", { name: org });
    await client.post("/api/v1/repository", { namespace: org, repository: "a/b/c", visibility: "private", description: "" });
    const { body } = await client.get<{ name: string }>(`/api/v1/repository/${repoPath(org, "a/b/c")}`);
    expect(body.name).toBe("a/b/c");
  });

  it("never puts the token into an error, whatever fails", async () => {
    const token = quay.connection.token;
    const errors: unknown[] = [];
    const limited = new QuayClient({ endpoint: quay.emulator.url, token, retries: 1, ...fast });
    quay.emulator.faults.add({ path: /./, status: 500, count: 2 });
    errors.push(await limited.get("/api/v1/user/").catch((e) => e));
    quay.emulator.faults.add({ path: /./, reset: true, count: 2 });
    errors.push(await limited.get("/api/v1/user/").catch((e) => e));
    errors.push(await limited.get(apiPath`/organization/${"missing"}`).catch((e) => e));
    const bad = new QuayClient({ endpoint: quay.emulator.url, token: token.slice(0, 20) + "X".repeat(20), retries: 0 });
    errors.push(await bad.post("/api/v1/organization/", { name: "x1" }).catch((e) => e));
    errors.push(await bad.get("/api/v1/user/").catch((e) => e));
    const dead = new QuayClient({ endpoint: "http://127.0.0.1:1", token, retries: 1, ...fast });
    errors.push(await dead.get("/api/v1/user/").catch((e) => e));
    for (const e of errors) {
      expect(e).toBeInstanceOf(QuayApiError);
      const text = `${(e as Error).message}\n${(e as Error).stack}\n${JSON.stringify(e)}`;
      expect(text).not.toContain(token);
    }
    expect((errors[3] as QuayApiError).message).toMatch(/token was rejected.*QUAY_TOKEN/);
  });

  it("falls back to an override token when Quay rejects the stored one", async () => {
    const stale = new QuayClient({ endpoint: quay.emulator.url, token: "R".repeat(40), fallbackTokens: [quay.connection.token], retries: 0 });
    const { body } = await stale.get<{ username: string }>("/api/v1/user/");
    expect(body.username).toBe("quayadmin");
    const { status } = await stale.post("/api/v1/organization/", { name: uniqueName("rescued") });
    expect(status).toBe(201);
  });
});

describe("QuayClient without the emulator", () => {
  it("times out a request that gets no answer, and retries it when safe", async () => {
    const server = http.createServer(() => undefined); // never answers
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    try {
      const client = new QuayClient({ endpoint: `http://127.0.0.1:${port}`, token: "t".repeat(40), timeoutMs: 100, retries: 1, ...fast });
      await expect(client.get("/api/v1/user/")).rejects.toMatchObject({ status: 0, quayMessage: "timed out after 100 ms", ambiguous: true });
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it("caps concurrent requests across every client of the process", async () => {
    let active = 0;
    let peak = 0;
    const server = http.createServer((_req, res) => {
      active++;
      peak = Math.max(peak, active);
      setTimeout(() => {
        active--;
        res.setHeader("Content-Type", "application/json");
        res.end("{}");
      }, 20);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const clients = [new QuayClient({ endpoint: url }), new QuayClient({ endpoint: url })];
      await Promise.all(Array.from({ length: 40 }, (_, i) => clients[i % 2].get("/x")));
      expect(peak).toBeGreaterThan(1);
      expect(peak).toBeLessThanOrEqual(8);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it("backs off exponentially with jitter and honours Retry-After", () => {
    expect(backoffDelay(0, 100, 5000, undefined, () => 0.999)).toBe(99);
    expect(backoffDelay(3, 100, 5000, undefined, () => 0.999)).toBe(799);
    expect(backoffDelay(10, 100, 5000, undefined, () => 0.999)).toBe(4995);
    expect(backoffDelay(0, 100, 5000, "2", () => 0)).toBe(2000);
  });
});
