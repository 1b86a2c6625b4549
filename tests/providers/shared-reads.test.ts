// shared-reads.ts: the GET answers one deployment of a CLI run read are served to the next deployment of the
// same run, never across runs or tokens, never after a write of the run, never in clear on disk.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { QuayClient } from "../../providers/quay/client";
import { cliScopeId, resetSharedReads } from "../../providers/quay/shared-reads";
import { QuayFixture, startQuay, uniqueName } from "../support/quay";

describe("shared reads between the deployments of one CLI run", () => {
  let quay: QuayFixture;
  let dir: string;
  let org: string;
  const saved = { dir: process.env.QUAY_SHARED_READS_DIR, age: process.env.QUAY_SHARED_READS_MAX_AGE_SECONDS };
  const client = (token = quay.connection.token) => new QuayClient({ endpoint: quay.emulator.url, token, retries: 0 });
  const description = async (c: QuayClient) => (await c.get<{ description: string }>(`/api/v1/repository/${org}/repo`)).body.description;

  beforeAll(async () => {
    quay = await startQuay();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "qm-shared-reads-"));
    process.env.QUAY_SHARED_READS_DIR = dir;
    org = uniqueName("shared");
    await quay.admin.post("/api/v1/organization/", { name: org });
    await quay.admin.post("/api/v1/repository", { namespace: org, repository: "repo", visibility: "private", description: "first" });
  });
  afterAll(async () => {
    resetSharedReads();
    for (const [k, v] of [["QUAY_SHARED_READS_DIR", saved.dir], ["QUAY_SHARED_READS_MAX_AGE_SECONDS", saved.age]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    fs.rmSync(dir, { recursive: true, force: true });
    await quay.close();
  });
  beforeEach(() => delete process.env.QUAY_SHARED_READS_MAX_AGE_SECONDS);

  it("has no scope outside a pulumi CLI run (jest is not one), so nothing is shared", async () => {
    expect(cliScopeId()).toBeUndefined();
    resetSharedReads();
    await description(client());
    quay.emulator.counter.reset();
    resetSharedReads();
    await description(client());
    expect(quay.emulator.counter.total()).toBe(1);
  });

  it("serves the second deployment of the same run; another run, another token or an expired answer reads Quay", async () => {
    const run = `4242:${Date.now()}`;
    resetSharedReads(run); // the preview's provider process
    quay.emulator.counter.reset();
    expect(await description(client())).toBe("first");
    expect(quay.emulator.counter.total()).toBe(1);
    resetSharedReads(run); // the update's provider process, same CLI run
    expect(await description(client())).toBe("first");
    expect(quay.emulator.counter.total()).toBe(1);

    resetSharedReads(`${run}-other`);
    await description(client());
    expect(quay.emulator.counter.total()).toBe(2);

    // Another token: its own key, its own entry (here: Quay refuses it; a refusal of the token is never kept).
    resetSharedReads(run);
    await expect(description(client("not-the-token-00000000000000000000000"))).rejects.toThrow(/401|403/);
    await expect(description(client("not-the-token-00000000000000000000000"))).rejects.toThrow(/401|403/);
    expect(quay.emulator.counter.total()).toBe(4);

    process.env.QUAY_SHARED_READS_MAX_AGE_SECONDS = "0";
    resetSharedReads(run);
    await description(client());
    expect(quay.emulator.counter.total()).toBe(5);
  });

  it("a write of the run ends sharing for every process of the run, before it is sent", async () => {
    const run = `4343:${Date.now()}`;
    resetSharedReads(run);
    expect(await description(client())).toBe("first");
    resetSharedReads(run);
    await client().put(`/api/v1/repository/${org}/repo`, { description: "second" });
    expect(await description(client())).toBe("second");
    // A later process of the same run reads Quay too.
    resetSharedReads(run);
    quay.emulator.counter.reset();
    expect(await description(client())).toBe("second");
    expect(quay.emulator.counter.total()).toBe(1);
    await client().put(`/api/v1/repository/${org}/repo`, { description: "first" });
  });

  it("keeps entries encrypted in a private directory: no token, URL or body in clear", async () => {
    const run = `4444:${Date.now()}`;
    resetSharedReads(run);
    await description(client());
    const base = fs.readdirSync(dir).map((d) => path.join(dir, d));
    expect(base).toHaveLength(1);
    expect(fs.statSync(base[0]).mode & 0o077).toBe(0);
    const files = fs.readdirSync(base[0], { recursive: true, withFileTypes: true }).filter((f) => f.isFile());
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const text = fs.readFileSync(path.join(f.parentPath, f.name)).toString("latin1");
      for (const secret of [quay.connection.token, org, "first", "description"]) expect(text).not.toContain(secret);
      expect(f.name).not.toContain(org);
    }
  });
});
