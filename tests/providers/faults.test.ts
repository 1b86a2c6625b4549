// With 10 % of requests failing (seeded: 500, 502, 503, 429 and dropped connections), the lifecycle of
// organizations, robots and namespace grants still converges, with nothing lost and nothing duplicated.
// A failed step is retried the way a re-run of `pulumi up` would: the same create again.
import { NamespaceReadGrantProvider, planGrants } from "../../providers/quay/namespace-grant";
import { forgetNamespaceListings } from "../../providers/quay/listing";
import { OrganizationProvider } from "../../providers/quay/organization";
import { RobotAccountProvider } from "../../providers/quay/robot";
import { QuayFixture, startQuay, uniqueName } from "../support/quay";

let failedSteps = 0;

async function untilDone<T>(step: () => Promise<T>, attempts = 12): Promise<T> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      return await step();
    } catch (e) {
      failedSteps++;
      last = e;
    }
  }
  throw last;
}

describe("convergence under injected faults", () => {
  let quay: QuayFixture;
  beforeAll(async () => {
    quay = await startQuay({ seed: 42 });
  });
  afterAll(async () => quay.close());

  const faulty = () => {
    for (const status of [500, 502, 503, 429]) quay.emulator.faults.add({ path: /^\/api\/v1\//, status, fraction: 0.02 });
    quay.emulator.faults.add({ path: /^\/api\/v1\//, reset: true, fraction: 0.02 });
  };

  it("organizations, robots and grants: every object exactly once", async () => {
    const prefix = uniqueName("f");
    const orgs = Array.from({ length: 12 }, (_, i) => `${prefix}o${i}`);
    faulty();
    try {
      await Promise.all(orgs.map((name) => untilDone(() => OrganizationProvider.instance.create({ connection: quay.connection, name } as never))));
      const robots = await Promise.all(
        orgs.map((namespace) => untilDone(() => RobotAccountProvider.instance.create({ connection: quay.connection, namespace, name: "ocp_mirror", description: "" } as never))),
      );
      for (const org of orgs.slice(0, 4)) {
        for (let i = 0; i < 5; i++) await untilDone(() => quay.admin.post("/api/v1/repository", { namespace: org, repository: `r/${i}`, visibility: "private", description: "" }).catch((e) => {
          if (/already exists/.test(e.quayMessage)) return undefined;
          throw e;
        }));
      }
      await untilDone(() => quay.admin.post("/api/v1/superuser/users/", { username: `${prefix}pull` }).catch((e) => {
        if (/already been taken/.test(e.quayMessage)) return undefined;
        throw e;
      }));
      const grantProps = { connection: quay.connection, granteeKind: "user", grantee: `${prefix}pull`, namespaces: orgs.slice(0, 4), role: "read" } as never;
      await untilDone(async () => {
        forgetNamespaceListings();
        const planned = (await NamespaceReadGrantProvider.instance.check(grantProps, grantProps)).inputs!;
        return NamespaceReadGrantProvider.instance.create(planned);
      });
      // Every robot token is the one Quay holds: no robot was created twice.
      quay.emulator.faults.clear();
      for (const [i, org] of orgs.entries()) {
        const { body } = await quay.admin.get<{ robots: Array<{ name: string; token: string }> }>(`/api/v1/organization/${org}/robots`, { query: { token: "true" } });
        expect(body.robots.map((r) => r.name)).toEqual([`${org}+ocp_mirror`]);
        expect(body.robots[0].token).toBe(robots[i].outs!.token);
      }
      forgetNamespaceListings();
      const after = (await NamespaceReadGrantProvider.instance.check(grantProps, grantProps)).inputs!;
      expect(after.missingGrants).toEqual([]);
      expect((await planGrants(after)).repositories).toHaveLength(20);
      // The faults really struck (the client retried most of them away; some steps had to be re-run).
      expect(failedSteps).toBeGreaterThan(0);
    } finally {
      quay.emulator.faults.clear();
    }
  });
});
