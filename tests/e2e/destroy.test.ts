// Issue 15 "What a refresh and a destroy say", through the real engine against the emulator (the lab model in
// existing-registry mode):
// - `destroy` revokes nothing Quay deletes anyway: a robot's, a team's or the cluster-pull user's permissions
//   and default permissions go with their holder, a repository's permissions with the repository
//   (`deletedWith`), a proxy cache's configuration with its organization. Before this, the lab model's destroy
//   (without proxy cache) sent 43 DELETEs (15 permission revokes, 7 prototype deletes) and 7 permission
//   listings; now 21 DELETEs (22 with the proxy cache's organization) and no listing.
// - An organization that still holds repositories the stack does not delete one by one (oc-mirror's pushes)
//   is not deleted, with a message that says why and the two ways on; QUAY_MIRROR_DELETE_REPOSITORIES deletes it.
// - A stack made before `deletedWith` was set previews with no change, and its next up writes nothing.
import { apiPath } from "../../providers/quay/client";
import { QuayFixture } from "../support/quay";
import { withEngineStack } from "../support/engine";
import { engineSuiteOnEmulator, existingLabConfig } from "../support/engine-suite";

jest.setTimeout(600_000);

const HOST = "quay.v7.comptech-lab.com";

const labConfig = (quay: QuayFixture) =>
  existingLabConfig(quay, HOST, {
    // One pull-through cache (a documentation address Quay's SSRF allow-list admits).
    "quay-mirror:proxyCaches": JSON.stringify({ upstreams: ["192.0.2.10"], expirationSeconds: 86400 }),
  });

/** Calls of one method in the emulator's counters, by route. */
const calls = (snapshot: Record<string, number>, method: string) =>
  Object.fromEntries(Object.entries(snapshot).filter(([k]) => k.startsWith(`${method} `)));
const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

describe("destroy of the lab model", () => {
  const suite = engineSuiteOnEmulator();

  test("deletes each object once, revokes nothing Quay deletes anyway, and keeps an organization that holds mirrored repositories until told", async () => {
    await withEngineStack({ program: "lab", config: labConfig(suite.quay), secrets: { "quay:token": suite.quay.connection.token } }, async (stack) => {
      await stack.up();
      // oc-mirror pushed a repository the model does not declare.
      await suite.quay.admin.post("/api/v1/repository", { namespace: "openshift-release", repository: "openshift/release", visibility: "private", description: "", repo_kind: "image" });
      // The cache pulled an image through: its organization goes anyway (cached copies), its config with it.
      await suite.quay.admin.post("/api/v1/repository", { namespace: "cache_192_0_2_10", repository: "library/alpine", visibility: "private", description: "", repo_kind: "image" });

      suite.quay.emulator.counter.reset();
      const refused = await stack.destroy().then(
        () => undefined,
        (e: Error) => e,
      );
      const first = suite.quay.emulator.counter.snapshot();
      expect(refused?.message).toMatch(
        /quay:Organization openshift-release: not deleted, because deleting an organization deletes every repository in it and openshift-release still holds 1 repository \(openshift-release\/openshift\/release\)/,
      );
      expect(refused?.message).toMatch(/QUAY_MIRROR_DELETE_REPOSITORIES=openshift-release bash scripts\/pulumi\.sh destroy/);
      // The organization and the pushed repository are untouched.
      expect((await suite.quay.admin.get<{ name: string }>(apiPath`/repository/${"openshift-release"}/${"openshift/release"}`)).body.name).toBe("openshift/release");
      await suite.quay.admin.get(apiPath`/organization/${"openshift-release"}`);
      await expect(suite.quay.admin.get(apiPath`/organization/${"cache_192_0_2_10"}`)).rejects.toMatchObject({ status: 404 });
      const left = await stack.resources();
      expect(left.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/quay:")).map((r) => r.urn.split("::").pop())).toEqual(["mirror-model-org-openshift-release"]);

      // Told to: the organization goes, with the repository in it.
      const ws = stack.stack.workspace as unknown as { envVars: Record<string, string> };
      ws.envVars.QUAY_MIRROR_DELETE_REPOSITORIES = "openshift-release";
      suite.quay.emulator.counter.reset();
      const done = await stack.destroy();
      delete ws.envVars.QUAY_MIRROR_DELETE_REPOSITORIES;
      const second = suite.quay.emulator.counter.snapshot();
      expect(done.diagnostics.map((d) => d.message).join("\n")).toMatch(
        /quay:Organization openshift-release: deleting it deletes the 1 repository \(openshift-release\/openshift\/release\) it holds, with their images/,
      );
      await expect(suite.quay.admin.get(apiPath`/organization/${"openshift-release"}`)).rejects.toMatchObject({ status: 404 });

      // Each object the stack made is deleted once; nothing inside a deleted holder is revoked first.
      const deletes: Record<string, number> = {};
      for (const snap of [first, second]) for (const [k, v] of Object.entries(calls(snap, "DELETE"))) deletes[k] = (deletes[k] ?? 0) + v;
      expect(deletes).toEqual({
        "DELETE /api/v1/organization/{org}": 6,
        "DELETE /api/v1/organization/{org}/robots/{robot}": 5,
        "DELETE /api/v1/organization/{org}/team/{team}": 2,
        "DELETE /api/v1/repository/{repo:path}": 8,
        "DELETE /api/v1/superuser/users/{username}": 1,
      });
      expect(total(deletes)).toBe(22);
      // No permission listing to find what to revoke (there were 7).
      const gets = { ...calls(first, "GET") };
      for (const [k, v] of Object.entries(calls(second, "GET"))) gets[k] = (gets[k] ?? 0) + v;
      expect(Object.keys(gets).filter((k) => /permissions|collaborators/.test(k))).toEqual([]);
    });
  });

  test("a stack made before deletedWith previews with no change and its next up writes nothing", async () => {
    await withEngineStack({ program: "lab", config: labConfig(suite.quay), secrets: { "quay:token": suite.quay.connection.token } }, async (stack) => {
      await stack.up();
      const state = await stack.stack.exportStack();
      const resources = (state.deployment as { resources: { urn: string; deletedWith?: string }[] }).resources;
      const withOption = resources.filter((r) => r.deletedWith).length;
      // DefaultPermission 7, NamespaceReadGrant 6 (5 robots and the cluster-pull user), ProxyCache 1.
      expect(withOption).toBe(14);
      // What main left: the same state without the option.
      for (const r of resources) delete r.deletedWith;
      await stack.stack.importStack(state);

      suite.quay.emulator.counter.reset();
      const plan = await stack.preview();
      expect(Object.keys(plan.summary)).toEqual(["same"]);
      const up = await stack.up();
      expect(Object.keys(up.summary)).toEqual(["same"]);
      expect(suite.quay.emulator.counter.writes()).toBe(0);
      const after = (await stack.stack.exportStack()).deployment as { resources: { deletedWith?: string }[] };
      expect(after.resources.filter((r) => r.deletedWith).length).toBe(withOption);
    });
  });
});
