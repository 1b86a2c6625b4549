// What the engine really stores for every Quay resource is the lazy shim (providers/lazy.ts). Serialize
// each one exactly as the engine does, prove it captured no secret and stays small, load it back, and
// drive it against the emulator (it loads the compiled provider from bin/, as the provider process does).
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { lazyProvider } from "../../providers/lazy";
import { QuayFixture, roundTripProvider, startQuay, uniqueName } from "../support/quay";

const root = path.join(__dirname, "../..");
const providerFiles = [
  ...["providers/quay", "providers/minio"].flatMap((dir) => fs.readdirSync(path.join(root, dir)).map((f) => `${dir}/${f}`)),
  "providers/local/random-secret.ts",
  "providers/local/registry-certificate.ts",
];
const shims = providerFiles
  .map((file) => ({ file, match: /lazyProvider\("([^"]+)", "(\w+)"\)/.exec(fs.readFileSync(path.join(root, file), "utf8")) }))
  .filter((x) => x.match)
  .map((x) => ({ file: x.file, module: x.match![1], className: x.match![2] }));

describe("the provider every resource stores", () => {
  let quay: QuayFixture;
  beforeAll(async () => {
    quay = await startQuay();
  });
  afterAll(async () => quay.close());

  it("every resource kind uses the shim of its own module", () => {
    expect(shims.map((s) => s.className).sort()).toEqual(
      [
        "ApiTokenProvider",
        "DefaultPermissionProvider",
        "NamespaceReadGrantProvider",
        "OrganizationProvider",
        "ProxyCacheProvider",
        "RandomSecretProvider",
        "RegistryCertificateProvider",
        "RepositoryPermissionProvider",
        "RepositoryProvider",
        "RepositorySetProvider",
        "RobotAccountProvider",
        "TeamProvider",
        "UserProvider",
        // MinIO
        "BucketProvider",
        "PolicyProvider",
        "UserProvider",
      ].sort(),
    );
    for (const s of shims) expect(`${s.module}.ts`).toBe(s.file);
  });

  it.each(shims)("$className: serializes small, with no secret, and works after the round trip", async ({ module, className }) => {
    const { provider, containsSecrets, text } = await roundTripProvider(lazyProvider(module, className));
    expect(containsSecrets).toBe(false);
    expect(text.length).toBeLessThan(6_000);
    expect(text).not.toContain(quay.connection.token);
    // The loaded shim reaches the compiled provider: its check answers like the provider's own.
    const checked = await provider.check!({}, { connection: quay.connection } as never);
    expect(checked).toHaveProperty("inputs");
  });

  it("a loaded shim creates, reads and deletes against the emulator", async () => {
    const { provider } = await roundTripProvider(lazyProvider("providers/quay/organization", "OrganizationProvider"));
    const name = uniqueName("shim");
    const created = await provider.create({ connection: quay.connection, name });
    expect((await provider.read!(created.id, created.outs)).id).toBe(name);
    await provider.delete!(created.id, created.outs);
    expect(await provider.read!(created.id, created.outs)).toEqual({});
  });

  it("names the missing build when the compiled provider is absent", async () => {
    const previous = process.env.QUAY_MIRROR_PROJECT_DIR;
    process.env.QUAY_MIRROR_PROJECT_DIR = "/";
    try {
      const shim = lazyProvider("providers/quay/nowhere", "NowhereProvider");
      await expect(shim.create({})).rejects.toThrow(/cannot find the compiled quay-mirror provider bin\/providers\/quay\/nowhere.js.*npm run build/);
    } finally {
      if (previous === undefined) delete process.env.QUAY_MIRROR_PROJECT_DIR;
      else process.env.QUAY_MIRROR_PROJECT_DIR = previous;
    }
  });
});

void pulumi;
