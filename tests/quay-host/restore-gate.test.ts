// The rebuild from backup's two QuayHost facts, under pulumi.runtime.setMocks: Quay's first start (the unit
// step) waits for startAfter — a promise resolved once QuayBackups' restore step exists (restoreGate) — and a
// new connection.host leaves the generated secrets' inputs unchanged (the same stack keeps DATABASE_SECRET_KEY
// and SECRET_KEY on the new host).
import * as pulumi from "@pulumi/pulumi";
import { QuayHost } from "../../components/quay-host";
import { QuayBackups, restoreGate } from "../../components/quay-backups";
import { labArgs } from "./samples";
import { unwrap } from "../support/outputs";

type Captured = { type: string; name: string; props: Record<string, any>; opts: pulumi.CustomResourceOptions };

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        const state: Record<string, any> = { ...args.inputs };
        if (args.type === "pulumi-nodejs:dynamic/local:RandomSecret") state.result = `GENERATED-${args.name}`;
        if (args.type === "random:index/randomPassword:RandomPassword") state.result = `GENERATED-${args.name}`;
        if (args.type === "command:remote:Command") state.stdout = "";
        return { id: `${args.name}-id`, state };
      },
      call: () => ({}),
    },
    "quay-mirror",
    "test",
    false,
  );
});

const capture = (captured: Captured[]) => ({
  transformations: [
    (a: pulumi.ResourceTransformationArgs) => {
      captured.push({ type: a.type, name: a.name, props: a.props, opts: a.opts as pulumi.CustomResourceOptions });
      return undefined;
    },
  ],
});

test("with startAfter, the unit step waits for the restore step as well as for the host's own steps; without, it does not", async () => {
  const captured: Captured[] = [];
  const gate = restoreGate();
  const host = new QuayHost("g", { ...labArgs(), secretGenerator: "node-crypto", startAfter: gate.startAfter } as any, capture(captured));
  const backups = new QuayBackups("gb", {
    connection: host.connection,
    after: [host.steps.postgres!, host.steps.config!],
    endpoint: "http://10.77.0.1:9000",
    backupCredentials: { accessKey: "quay-backup", secretKey: pulumi.secret("b") },
    restoreCredentials: { accessKey: "quay-restore", secretKey: pulumi.secret("r") },
    restoreFrom: "latest",
  });
  gate.open(backups);
  const unit = captured.find((c) => c.name === "g-unit")!;
  // (the SDK hands a promised dependsOn to transformations as an Output)
  const given = unit.opts.dependsOn as unknown;
  const deps = (pulumi.Output.isInstance(given) ? await (given as any).promise() : await Promise.resolve(given)) as pulumi.Resource[];
  expect(deps).toContain(backups.restored);
  expect(deps).toEqual(expect.arrayContaining([host.steps.postgres, host.steps.redis, host.steps.config, host.steps.image, host.steps.firewall]));

  const plain: Captured[] = [];
  new QuayHost("p", { ...labArgs(), secretGenerator: "node-crypto" } as any, capture(plain));
  const plainDeps = plain.find((c) => c.name === "p-unit")!.opts.dependsOn as pulumi.Resource[];
  expect(Array.isArray(plainDeps)).toBe(true);
  expect(plainDeps.some((d) => (d as unknown) === backups.restored)).toBe(false);
});

test("a gate that fails (QuayBackups not declared, or no restore step) rejects: the unit step's registration fails with it, so Quay never starts on an empty database", async () => {
  // (attached to a QuayHost, the rejection fails the whole program run — under mocks it ends the process — so
  // the gates here stand alone)
  const gate = restoreGate();
  gate.fail("QuayBackups was not declared");
  await expect(gate.startAfter).rejects.toThrow("QuayBackups was not declared");

  const g2 = restoreGate();
  const noRestore = new QuayBackups("nr", {
    connection: { host: "10.77.0.2", user: "ci", privateKey: pulumi.secret("k"), hostKey: labArgs().connection.hostKey },
    endpoint: "http://10.77.0.1:9000",
    backupCredentials: { accessKey: "quay-backup", secretKey: pulumi.secret("b") },
    restoreCredentials: { accessKey: "quay-restore", secretKey: pulumi.secret("r") },
  });
  g2.open(noRestore);
  await expect(g2.startAfter).rejects.toThrow(/declared no restore step/);
});

test("startAfter must be resources or a promise of them (JSON path and fix)", () => {
  expect(() => new QuayHost("bad", { ...labArgs(), startAfter: "restore" } as any)).toThrow(/\$\.startAfter: startAfter must list Pulumi resources .* — fix: /);
});

test("a new connection.host (the rebuild) leaves the generated secrets' inputs as they were: the same stack keeps them", async () => {
  const secretsOf = async (name: string, host: string) => {
    const captured: Captured[] = [];
    new QuayHost(name, { ...labArgs(), connection: { ...labArgs().connection, host }, secretGenerator: "node-crypto" } as any, capture(captured));
    const generated = captured.filter((c) => c.type.includes("RandomSecret"));
    return Promise.all(generated.map(async (c) => ({ name: c.name.slice(name.length + 1), props: JSON.stringify(await unwrap(pulumi.output(c.props))) })));
  };
  const a = await secretsOf("sa", "10.77.0.2");
  const b = await secretsOf("sb", "10.77.9.2");
  expect(a.map((s) => s.name).sort()).toEqual(["database-secret-key", "postgres-password", "redis-password", "secret-key", "superuser-password"]);
  expect(b).toEqual(a);
  for (const s of a) expect(s.props).not.toMatch(/10\.77/);
});
