// The README's main command: `bash scripts/preview-lab.sh` previews the lab stack offline, on the file
// backend inside the project, with no Pulumi Cloud account and throwaway values for unset secrets.
import { execFile } from "child_process";
import { promisify } from "util";
import { repoRoot, toolchain } from "../support/engine";

const run = promisify(execFile);

describe("the main command", () => {
  beforeAll(() => toolchain());

  test("previews the whole lab plan: host steps, the long-lived token, the model, pre-seeded repositories, proxy caches", async () => {
    const env = { ...process.env };
    delete env.PULUMI_ACCESS_TOKEN;
    delete env.PULUMI_CONFIG_PASSPHRASE;
    const { stdout, stderr } = await run("bash", ["scripts/preview-lab.sh"], { cwd: repoRoot, env, maxBuffer: 64 * 1024 * 1024, timeout: 600_000 });
    const out = `${stdout}\n${stderr}`;
    for (const step of ["wait", "packages", "postgres", "redis", "config", "image", "unit", "firewall", "health", "initialize"]) {
      expect(out).toMatch(new RegExp(`command:remote:Command\\s+quay-${step}\\s+create`));
    }
    expect(out).toMatch(/pulumi-nodejs:dynamic\/quay:ApiToken\s+api-token\s+create/);
    expect(out).toMatch(/mirror pre-seed: 12 destination repositories in openshift-operators/);
    expect(out).toMatch(/mirror pre-seed: 1 destination repositories in openshift-release/);
    // One RepositorySet per organization (its `--diff` names each repository: tests/e2e/lab-existing).
    for (const org of ["openshift-operators", "openshift-release"]) {
      expect(out).toMatch(new RegExp(`pulumi-nodejs:dynamic/quay:RepositorySet\\s+mirror-preseed-${org}\\s+create`));
    }
    expect(out).not.toMatch(/pulumi-nodejs:dynamic\/quay:Repository\s+mirror-preseed-/);
    for (const org of ["openshift-release", "openshift-operators", "platform", "golden-images", "tenants"]) {
      expect(out).toMatch(new RegExp(`pulumi-nodejs:dynamic/quay:Organization\\s+mirror-model-org-${org}\\s+create`));
    }
    expect(out).toMatch(/cache_registry_redhat_io/);
    expect(out).toMatch(/THROWAWAY/);
    expect(out).toMatch(/\+ (\d+) to create/);
    // 67 when the pre-seed became one set per organization (78 with one resource per repository).
    expect(Number(/\+ (\d+) to create/.exec(out)![1])).toBeGreaterThanOrEqual(60);
    expect(out).not.toMatch(/error:/);
  }, 900_000);
});
