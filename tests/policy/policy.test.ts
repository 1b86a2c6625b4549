// The policy pack (policy/) through the real engine: `pulumi preview --policy-pack policy` of small
// programs (tests/programs/policy-*), each rule with a violating and a passing variant.
//
// Needs the compiled pack (`npx tsc -p .`: policy/package.json's main is bin/policy/index.js) and the
// language host shim (scripts/install-policy-shim.sh): without it CLI v3.259.0 cannot start a Node.js
// policy pack with the v3.68.0 host ("could not read plugin …: not supported"). A preview only calls the
// providers' check; NamespaceReadGrant's check lists repositories in Quay, so the programs point at the
// emulator, with the namespaces they use created there.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { EngineEvent, PolicyEvent } from "@pulumi/pulumi/automation";
import { EngineStack, repoRoot, toolchain, withEngineStack } from "../support/engine";
import { QuayFixture, startQuay } from "../support/quay";

const packDir = path.join(repoRoot, "policy");

interface Violation {
  policy: string;
  resource: string;
  level: string;
  message: string;
}

interface PolicyPreview {
  failed: boolean;
  violations: Violation[];
  output: string;
}

const resourceName = (urn?: string) => (urn ? urn.slice(urn.lastIndexOf("::") + 2) : "<stack>");

/** `pulumi preview --policy-pack policy [--policy-pack-config <file>]`; a mandatory violation fails it. */
async function previewWithPolicy(stack: EngineStack, policyConfig?: Record<string, unknown>): Promise<PolicyPreview> {
  const events: PolicyEvent[] = [];
  const onEvent = (e: EngineEvent) => {
    if (e.policyEvent) events.push(e.policyEvent);
  };
  let configFile: string | undefined;
  if (policyConfig) {
    configFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "qm-policy-config-")), "policy-config.json");
    fs.writeFileSync(configFile, JSON.stringify(policyConfig));
  }
  let failed = false;
  let output = "";
  try {
    const res = await stack.stack.preview({ policyPacks: [packDir], policyPackConfigs: configFile ? [configFile] : undefined, onEvent, color: "never" });
    output = res.stdout + res.stderr;
  } catch (e) {
    failed = true;
    output = String((e as Error).message);
  } finally {
    if (configFile) fs.rmSync(path.dirname(configFile), { recursive: true, force: true });
  }
  const violations = events.map((p) => ({ policy: p.policyName, resource: resourceName(p.resourceUrn), level: p.enforcementLevel, message: p.message }));
  return { failed, violations, output };
}

/** policy → sorted resource names it reported. */
function byPolicy(violations: Violation[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const v of violations) (out[v.policy] ??= []).push(v.resource);
  for (const k of Object.keys(out)) out[k].sort();
  return out;
}

function messageFor(p: PolicyPreview, resource: string): string {
  return p.violations.filter((v) => v.resource === resource).map((v) => v.message).join("\n");
}

let quay: QuayFixture;

beforeAll(async () => {
  const tc = toolchain();
  if (!fs.existsSync(path.join(tc.binDir, ".pulumi-language-nodejs.shim"))) {
    throw new Error(`the language host shim is not installed in ${tc.binDir}: run bash scripts/install-policy-shim.sh (docs/policy.md)`);
  }
  if (!fs.existsSync(path.join(repoRoot, "bin", "policy", "index.js"))) {
    throw new Error("bin/policy/index.js not found: compile with `npx tsc -p .` first");
  }
  quay = await startQuay();
  for (const name of ["openshift-release", "openshift-operators", "platform"]) {
    await quay.admin.post("/api/v1/organization/", { name });
  }
});

afterAll(async () => {
  await quay?.close();
});

/** A throw-away stack of a policy test program; `variant` is set before each preview. */
function withPolicyStack(program: string, fn: (stack: EngineStack, variant: (v: "violating" | "passing", extra?: Record<string, string>) => Promise<void>) => Promise<void>) {
  return withEngineStack({ program, config: { "test:endpoint": quay.emulator.url, "test:variant": "passing" }, secrets: { "test:token": quay.connection.token } }, (stack) =>
    fn(stack, async (v, extra = {}) => {
      await stack.setConfig("test:variant", v);
      for (const [k, value] of Object.entries(extra)) await stack.setConfig(k, value);
    }),
  );
}

describe("policy pack through pulumi preview --policy-pack", () => {
  test("mirror-robot-no-admin: admin for a mirror robot by permission, default permission, grant, admin team or team grant", async () => {
    await withPolicyStack("policy-mirror-robot", async (stack, variant) => {
      await variant("violating");
      const bad = await previewWithPolicy(stack);
      expect(bad.failed).toBe(true);
      expect(byPolicy(bad.violations)).toEqual({
        "mirror-robot-no-admin": ["operators-default", "operators-team-perm", "release-creators", "release-grant", "release-perm"],
      });
      expect(bad.violations.every((v) => v.level === "mandatory")).toBe(true);
      // Names the robot even where a preview does not know its full name yet, and says what to do.
      expect(messageFor(bad, "release-perm")).toMatch(/mirror robot "openshift-release\+ocp_mirror" is given role admin on repository "openshift-release\/release-images": set role "write"/);
      expect(messageFor(bad, "release-creators")).toMatch(/team "openshift-release\/mirror-creators" has role admin and holds mirror robot "openshift-release\+ocp_mirror": set the team's role to "creator"/);
      expect(messageFor(bad, "operators-team-perm")).toMatch(/team "openshift-operators\/pushers" holds mirror robot "openshift-operators\+ocp_mirror" and is given admin on repository/);
      expect(bad.output).toMatch(/mirror-robot-no-admin/);

      await variant("passing");
      const good = await previewWithPolicy(stack);
      expect(good.violations).toEqual([]);
      expect(good.failed).toBe(false);
    });
  });

  test("mirror-repository-private: public Repository and RepositorySet in mirror namespaces; mirrorNamespaces from policy config", async () => {
    await withPolicyStack("policy-public-repo", async (stack, variant) => {
      await variant("violating");
      const bad = await previewWithPolicy(stack);
      expect(bad.failed).toBe(true);
      expect(byPolicy(bad.violations)).toEqual({ "mirror-repository-private": ["operator-index", "operators-preseed", "release-images", "release-preseed-list"] });
      expect(messageFor(bad, "release-images")).toMatch(/repository "openshift-release\/release-images" is public in mirror namespace "openshift-release": set visibility "private"/);
      expect(messageFor(bad, "operators-preseed")).toMatch(/repository set of mirror namespace "openshift-operators" makes 2 repositories public \(redhat\/a, redhat\/b\): set visibility "private"/);
      expect(messageFor(bad, "release-preseed-list")).toMatch(/repository set of mirror namespace "openshift-release" makes 1 repository public \(openshift\/release\)/);

      await variant("passing");
      const good = await previewWithPolicy(stack);
      expect(good.violations).toEqual([]);
      expect(good.failed).toBe(false);

      // The public repository of "platform" becomes a violation once the config calls platform a mirror namespace.
      const configured = await previewWithPolicy(stack, { "mirror-repository-private": { mirrorNamespaces: ["platform"] } });
      expect(configured.failed).toBe(true);
      expect(byPolicy(configured.violations)).toEqual({ "mirror-repository-private": ["platform-preseed", "smoke"] });
    });
  });

  test("blob-bucket-no-lifecycle: any lifecycle rule on the blob bucket; its name from policy config", async () => {
    await withPolicyStack("policy-blob-bucket", async (stack, variant) => {
      await variant("violating");
      const bad = await previewWithPolicy(stack);
      expect(bad.failed).toBe(true);
      expect(byPolicy(bad.violations)).toEqual({ "blob-bucket-no-lifecycle": ["blobs"] });
      expect(messageFor(bad, "blobs")).toMatch(/bucket "quay-storage" holds Quay's blobs and has 1 lifecycle rule\(s\): remove every lifecycle rule \(set lifecycleRules to \[\]\)/);

      await variant("passing");
      const good = await previewWithPolicy(stack);
      expect(good.violations).toEqual([]);
      expect(good.failed).toBe(false);

      // Another blob bucket name: not guarded by default, guarded once the config names it.
      await variant("violating", { "test:blobBucket": "registry-blobs" });
      expect((await previewWithPolicy(stack)).violations).toEqual([]);
      const configured = await previewWithPolicy(stack, { "blob-bucket-no-lifecycle": { blobBucket: "registry-blobs" } });
      expect(configured.failed).toBe(true);
      expect(byPolicy(configured.violations)).toEqual({ "blob-bucket-no-lifecycle": ["blobs"] });
    });
  });

  test("proxy-cache-expiration: a proxy cache whose tags never expire", async () => {
    await withPolicyStack("policy-proxy-cache", async (stack, variant) => {
      await variant("violating");
      const bad = await previewWithPolicy(stack);
      expect(bad.failed).toBe(true);
      expect(byPolicy(bad.violations)).toEqual({ "proxy-cache-expiration": ["quay-io"] });
      expect(messageFor(bad, "quay-io")).toMatch(/proxy cache "quay-io-cache" has expirationSeconds 0: cached tags would never expire; set expirationSeconds to a positive number/);

      await variant("passing");
      const good = await previewWithPolicy(stack);
      expect(good.violations).toEqual([]);
      expect(good.failed).toBe(false);
    });
  });

  test("cluster-pull-user-read-only: write or admin for the cluster-pull user by permission, default permission, grant, team role or team grant", async () => {
    await withPolicyStack("policy-pull-user", async (stack, variant) => {
      await variant("violating");
      const bad = await previewWithPolicy(stack);
      expect(bad.failed).toBe(true);
      expect(byPolicy(bad.violations)).toEqual({
        "cluster-pull-user-read-only": ["creators", "grant", "operators-default", "readers-perm", "release-perm"],
      });
      expect(messageFor(bad, "release-perm")).toMatch(/cluster-pull user "ocp_cluster_pull" is given role write on repository "openshift-release\/release-images": set role "read"/);
      expect(messageFor(bad, "creators")).toMatch(/is a member of team "openshift-release\/creators" with role creator: take it out of the team/);
      expect(messageFor(bad, "readers-perm")).toMatch(/team "openshift-operators\/readers" holds cluster-pull user "ocp_cluster_pull" and is given write/);

      await variant("passing");
      const good = await previewWithPolicy(stack);
      expect(good.violations).toEqual([]);
      expect(good.failed).toBe(false);
    });
  });

  test("ssh-host-key-pinned: a remote Command or CopyToRemote whose connection or bastion has no hostKey; trust-on-first-use only when allowed", async () => {
    await withPolicyStack("policy-host-key", async (stack, variant) => {
      const expected: Record<string, RegExp> = {
        unpinned: /SSH connection to 192\.0\.2\.10:22 has no hostKey: .*pin the host's key: `ssh-keyscan -t ed25519 192\.0\.2\.10`/,
        "unpinned-copy": /SSH connection to 192\.0\.2\.11:22 has no hostKey/,
        "bastion-unpinned": /SSH proxy \(bastion\) 192\.0\.2\.1:22 has no hostKey/,
        tofu: /hostKey "trust-on-first-use": the first key offered is trusted unverified .*allowTrustOnFirstUse/,
      };
      // One case per preview: the engine stops at the first resource whose provider check fails.
      for (const [name, message] of Object.entries(expected)) {
        await variant("violating", { "test:case": name });
        const bad = await previewWithPolicy(stack);
        expect({ name, failed: bad.failed }).toEqual({ name, failed: true });
        expect({ name, violations: byPolicy(bad.violations) }).toEqual({ name, violations: { "ssh-host-key-pinned": [name] } });
        expect(bad.violations.every((v) => v.level === "mandatory")).toBe(true);
        expect(messageFor(bad, name)).toMatch(message);
      }

      await variant("passing");
      const tofuOnly = await previewWithPolicy(stack);
      expect(byPolicy(tofuOnly.violations)).toEqual({ "ssh-host-key-pinned": ["tofu"] });
      const allowed = await previewWithPolicy(stack, { "ssh-host-key-pinned": { allowTrustOnFirstUse: true } });
      expect(allowed.violations).toEqual([]);
      expect(allowed.failed).toBe(false);
    });
  });
});
