// Issue #8, pull-request previews: the workflows' commands (scripts/ci-stack.sh, which
// .github/workflows/pulumi-*.yml run) against Pulumi's S3 backend on a real MinIO, with the backend URL the
// workflows declare (only the endpoint swapped for this MinIO's), the real program in existing-registry mode
// and the Quay emulator as the registry.
//
// Checkout A (a clone of the repository's HEAD plus a commit that adds the stack's settings, as a merged pull
// request would) runs `up`. Checkout B (a clone of A, with nothing of A's local files) runs `preview`: it sees
// A's state and plans no change. Then B changes the stack's settings, as a pull request would: the preview
// shows exactly that change, and --expect-no-changes fails. The state objects are in the MinIO bucket, hold
// no plaintext secret, and no secret was ever on a command line.
//
// Commit scripts/ci-stack.sh and the program before running: the checkouts are clones of HEAD.
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { repoRoot, toolchain } from "../support/engine";
import { Minio, startMinio } from "../support/minio";
import { QuayFixture, startQuay } from "../support/quay";
import { PREVIEW_WORKFLOW, RunResult, UP_WORKFLOW, run, withEndpoint, workflowBackendUrl } from "./workflow-files";

jest.setTimeout(900_000);

const STACK = "ci-shared";
const HOST = "quay.v7.comptech-lab.com";
const BUCKET = "pulumi-state";
const PROJECT = "quay-mirror";

/** The stack's committed settings, existing-registry mode against the emulator. */
function stackSettings(apiUrl: string, extra = ""): string {
  return [
    "# The shared-state test's stack (tests/ecosystem/shared-state.test.ts): the lab model on an existing registry.",
    "config:",
    "  quay-mirror:mode: existing",
    `  quay-mirror:apiUrl: ${apiUrl}`,
    `  quay-mirror:registryHostname: ${HOST}`,
    "  quay-mirror:modelFile: data/quay/bootstrap-model.json",
    extra,
  ].join("\n");
}

/** The short type of a URN (`urn:pulumi:stack::project::parent$pkg:mod:Type::name` → `Type`). */
function urnType(urn: string): string {
  const parts = urn.split("::");
  return (parts[parts.length - 2] ?? "").split("$").pop()!.split(":").pop()!;
}

/** Watches every process's command line (/proc/<pid>/cmdline) every 100 ms for any of the needles. */
function watchArgv(needles: string[]): { stop(): string[] } {
  const seen = new Set<string>();
  const scan = () => {
    for (const pid of fs.readdirSync("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      let cmdline: string;
      try {
        cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
      } catch {
        continue;
      }
      for (const n of needles) if (cmdline.includes(n)) seen.add(`pid ${pid}: ${cmdline.split("\0")[0]} (holds secret #${needles.indexOf(n)})`);
    }
  };
  const timer = setInterval(scan, 100);
  return {
    stop() {
      clearInterval(timer);
      scan();
      return [...seen];
    },
  };
}

describe("pull-request previews on shared state: Pulumi's S3 backend on a real MinIO", () => {
  let minio: Minio;
  let quay: QuayFixture;
  let tmp: string;
  let checkoutA: string;
  let checkoutB: string;
  let env: Record<string, string>;
  let backendUrl: string;
  const passphrase = crypto.randomBytes(18).toString("base64");
  const stateUser = { accessKey: "pulumi-state-ci", secretKey: `state-${crypto.randomBytes(12).toString("hex")}` };

  const ciStack = (checkout: string, args: string[], extraEnv: Record<string, string> = {}): Promise<RunResult> =>
    run("bash", ["scripts/ci-stack.sh", ...args], { cwd: checkout, env: { ...env, ...extraEnv } });

  /** Every object in the state bucket: key → size and etag. */
  async function bucketObjects(): Promise<Map<string, string>> {
    const r = await minio.mc(["ls", "--recursive", `root/${BUCKET}`]);
    return new Map(r.json.filter((o) => o.type === "file").map((o) => [String(o.key), `${o.size}:${o.etag}`]));
  }

  const git = (cwd: string, ...args: string[]) =>
    execFileSync("git", ["-c", "user.name=shared-state test", "-c", "user.email=test@quay-mirror.invalid", ...args], { cwd, encoding: "utf8" });

  beforeAll(async () => {
    const tc = toolchain();
    if (!tc.hasLanguageHost) throw new Error(`pulumi-language-nodejs missing in ${tc.binDir}: pulumi/actions runs programs through the CLI`);
    minio = await startMinio();
    quay = await startQuay();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "qm-shared-state-"));

    // The state bucket and its own MinIO user, limited to that bucket (docs/pull-request-previews.md).
    await minio.mc(["mb", `root/${BUCKET}`]);
    const policy = path.join(tmp, "pulumi-state-policy.json");
    fs.writeFileSync(
      policy,
      JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          { Effect: "Allow", Action: ["s3:GetBucketLocation", "s3:ListBucket"], Resource: [`arn:aws:s3:::${BUCKET}`] },
          { Effect: "Allow", Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], Resource: [`arn:aws:s3:::${BUCKET}/*`] },
        ],
      }),
    );
    await minio.mc(["admin", "user", "add", "root", stateUser.accessKey], { stdin: `${stateUser.secretKey}\n` });
    await minio.mc(["admin", "policy", "create", "root", "pulumi-state-rw", policy]);
    await minio.mc(["admin", "policy", "attach", "root", "pulumi-state-rw", "--user", stateUser.accessKey]);

    // The backend the workflows declare, on this MinIO.
    const declared = workflowBackendUrl(PREVIEW_WORKFLOW);
    expect(workflowBackendUrl(UP_WORKFLOW)).toBe(declared);
    backendUrl = withEndpoint(declared, minio.endpoint);
    expect(new URL(backendUrl).host).toBe(BUCKET);

    // Checkout A: HEAD plus the stack's settings, committed. Checkout B: a clone of A.
    checkoutA = path.join(tmp, "checkout-a");
    checkoutB = path.join(tmp, "checkout-b");
    execFileSync("git", ["clone", "--quiet", repoRoot, checkoutA]);
    fs.writeFileSync(path.join(checkoutA, `Pulumi.${STACK}.yaml`), stackSettings(quay.emulator.url));
    git(checkoutA, "add", `Pulumi.${STACK}.yaml`);
    git(checkoutA, "commit", "--quiet", "-m", `stack ${STACK}`);
    execFileSync("git", ["clone", "--quiet", checkoutA, checkoutB]);
    for (const c of [checkoutA, checkoutB]) {
      // The repository's node_modules, linked (ci-stack.sh refuses to reinstall through a link).
      fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(c, "node_modules"));
    }

    env = { ...tc.env };
    for (const k of Object.keys(env)) if (k.startsWith("GITHUB_") || k.startsWith("QM_") || k.startsWith("AWS_")) delete env[k];
    delete env.PULUMI_ACCESS_TOKEN;
    delete env.PULUMI_CONFIG_PASSPHRASE_FILE;
    Object.assign(env, {
      PULUMI_BACKEND_URL: backendUrl,
      AWS_ACCESS_KEY_ID: stateUser.accessKey,
      AWS_SECRET_ACCESS_KEY: stateUser.secretKey,
      PULUMI_CONFIG_PASSPHRASE: passphrase,
    });
  });

  afterAll(async () => {
    await quay?.close();
    await minio?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test("the argument watcher sees a secret on a command line (so its empty answer below means something)", async () => {
    const canary = `canary-${crypto.randomBytes(8).toString("hex")}`;
    const w = watchArgv([canary]);
    // (two commands: bash would exec a lone `sleep` in its own place, dropping the canary from the command line)
    await run("bash", ["-c", "sleep 0.5; true", canary], { cwd: tmp, env });
    expect(w.stop().length).toBeGreaterThan(0);
  });

  test("the matrix: checkout B's last commit touches exactly the new stack", async () => {
    const r = await ciStack(checkoutB, ["changed-stacks", "HEAD~1", "HEAD"]);
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual([STACK]);
  });

  test("A's up writes the state to MinIO; B previews against it and plans no change; a settings change shows exactly that change", async () => {
    const token = quay.connection.token;
    const secrets = [token, passphrase, stateUser.secretKey];
    const argv = watchArgv(secrets);
    let argvHits: string[] | undefined;
    try {

      // Checkout A: `up` (what pulumi/actions runs: up --yes --skip-preview).
      const up = await ciStack(checkoutA, ["up", STACK], { QUAY_TOKEN: token });
      expect({ code: up.code, tail: up.stdout.slice(-3000) + up.stderr.slice(-3000) }).toEqual({ code: 0, tail: expect.any(String) });
      expect(up.stdout).toMatch(/\+ 40 created/);
      expect(up.stderr).toMatch(/stack ci-shared created on s3:\/\/pulumi-state\?/);

      // The state is in the bucket, under the project and the stack.
      const afterUp = await bucketObjects();
      expect([...afterUp.keys()]).toEqual(expect.arrayContaining([".pulumi/meta.yaml", `.pulumi/stacks/${PROJECT}/${STACK}.json`]));
      const checkpoint = JSON.parse((await minio.mc(["cat", `root/${BUCKET}/.pulumi/stacks/${PROJECT}/${STACK}.json`])).stdout);
      const resources: { type: string }[] = checkpoint.checkpoint.latest.resources;
      // The lab model's Quay objects: 5 organizations, 8 repositories, 5 robots, 2 teams, 7 default permissions,
      // 6 namespace grants, 1 user.
      expect(resources.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/quay:")).length).toBe(34);
      expect(checkpoint.checkpoint.latest.secrets_providers.type).toBe("passphrase");
      const salt: string = checkpoint.checkpoint.latest.secrets_providers.state.salt;
      // Every resource but the providers is a step of the plan.
      const planned = resources.filter((r) => !r.type.startsWith("pulumi:providers:")).length;

      // Checkout B: nothing of A's but the backend. `preview --expect-no-changes` succeeds and plans only "same".
      const quiet = await ciStack(checkoutB, ["preview", STACK, "--expect-no-changes", "--json"], { QUAY_TOKEN: token });
      expect({ code: quiet.code, stderr: quiet.stderr.slice(-3000) }).toEqual({ code: 0, stderr: expect.any(String) });
      const plan = JSON.parse(quiet.stdout) as { steps: { op: string; urn: string }[]; changeSummary: Record<string, number> };
      expect(plan.changeSummary).toEqual({ same: planned });
      // With --refresh every object is read first (op "refresh"); nothing is planned beyond that.
      expect(plan.steps.filter((s) => s.op !== "same" && s.op !== "refresh")).toEqual([]);
      expect(plan.steps.filter((s) => s.op === "refresh").length).toBeGreaterThan(0);
      expect(quiet.stderr).toMatch(/stack ci-shared selected on s3:\/\/pulumi-state\?/);
      // B encrypted its settings with the state's salt, so every checkout agrees on the key.
      const settingsB = fs.readFileSync(path.join(checkoutB, ".pulumi-state", "ci", STACK, `Pulumi.${STACK}.yaml`), "utf8");
      expect(settingsB).toContain(`encryptionsalt: "${salt}"`);
      expect(settingsB).not.toContain(token);
      // The human-readable preview the action comments on the pull request says the same.
      const text = await ciStack(checkoutB, ["preview", STACK], { QUAY_TOKEN: token });
      expect(text.code).toBe(0);
      expect(text.stdout).toContain(`${planned} unchanged`);
      expect(text.stdout).not.toMatch(/to create|to update|to delete|to replace/);
      // A preview writes no state.
      expect(await bucketObjects()).toEqual(afterUp);

      // A pull request in B changes the stack's settings (two pre-seeded mirror repositories): the preview shows
      // exactly those two creations, and --expect-no-changes fails.
      fs.writeFileSync(
        path.join(checkoutB, "data", "ci-shared-mapping.txt"),
        [
          `docker://registry.redhat.io/ubi9/ubi@sha256:${"a".repeat(64)}=docker://${HOST}/openshift-release/ubi9/ubi:9.6`,
          `docker://registry.redhat.io/ubi9/ubi-minimal@sha256:${"b".repeat(64)}=docker://${HOST}/openshift-release/ubi9/ubi-minimal:9.6`,
          "",
        ].join("\n"),
      );
      fs.writeFileSync(
        path.join(checkoutB, `Pulumi.${STACK}.yaml`),
        stackSettings(quay.emulator.url, "  quay-mirror:mirrorMappings:\n    - file: data/ci-shared-mapping.txt\n      organization: openshift-release\n"),
      );
      const changed = await ciStack(checkoutB, ["preview", STACK, "--expect-no-changes", "--json"], { QUAY_TOKEN: token });
      expect(changed.code).not.toBe(0);
      const changedPlan = JSON.parse(changed.stdout) as { steps: { op: string; urn: string }[] };
      const changes = changedPlan.steps.filter((s) => s.op !== "same" && s.op !== "refresh");
      // Only creations, only of the pre-seed of that organization (however the program groups the
      // repositories into resources), and they name exactly the two new repositories.
      expect({ changes: changes.map((s) => `${s.op} ${urnType(s.urn)} ${s.urn.split("::").pop()}`), stderr: changed.stderr.slice(-2000) }).toEqual({
        changes: expect.arrayContaining([expect.stringMatching(/^create \w+ mirror-preseed-openshift-release/)]),
        stderr: expect.any(String),
      });
      for (const s of changes) expect(s.op).toBe("create");
      for (const s of changes) expect(s.urn.split("::").pop()).toMatch(/^mirror-preseed-openshift-release/);
      // Whatever resources carry them, the planned inputs name exactly the two new repositories.
      const plannedRepos = changes.flatMap((s) => {
        const inputs = (s as { newState?: { inputs?: { namespace?: string; repositories?: Record<string, string> } } }).newState?.inputs;
        return Object.keys(inputs?.repositories ?? {}).map((r) => `${inputs?.namespace}/${r}`);
      });
      expect(plannedRepos.sort()).toEqual(["openshift-release/ubi9/ubi", "openshift-release/ubi9/ubi-minimal"]);
      expect(await bucketObjects()).toEqual(afterUp);

      // No secret on any command line, in the output, or in plaintext in any object of the bucket (the stack,
      // its backups and its history).
      argvHits = argv.stop();
      expect(argvHits).toEqual([]);
      for (const r of [up, quiet, text, changed]) for (const s of secrets) expect(r.stdout + r.stderr).not.toContain(s);
      const outputs = await run("bash", ["-c", 'source scripts/env.sh >/dev/null && pulumi -C ".pulumi-state/ci/$1" stack output --stack "$1" --json --show-secrets', "show", STACK], {
        cwd: checkoutB,
        env,
      });
      expect(outputs.code).toBe(0);
      const robots = JSON.parse(outputs.stdout).robotCredentials as Record<string, { password: string }>;
      const robotTokens = Object.values(robots).map((r) => r.password);
      expect(robotTokens.length).toBe(5);
      const keys = [...afterUp.keys()];
      expect(keys.length).toBeGreaterThanOrEqual(3);
      let ciphertexts = 0;
      for (const key of keys) {
        const body = (await minio.mc(["cat", `root/${BUCKET}/${key}`])).stdout;
        for (const s of [...secrets, ...robotTokens]) expect({ key, found: body.includes(s) }).toEqual({ key, found: false });
        ciphertexts += (body.match(/"ciphertext"/g) ?? []).length;
      }
      expect(ciphertexts).toBeGreaterThan(0);
    } finally {
      if (argvHits === undefined) argv.stop();
    }
  });

  test("a preview needs only a read-only state key (the quay-lab-preview environment's), and then refuses to create a stack", async () => {
    // The read-only user of docs/pull-request-previews.md.
    const reader = { accessKey: "pulumi-state-preview", secretKey: `ro-${crypto.randomBytes(12).toString("hex")}` };
    const policy = path.join(tmp, "pulumi-state-ro.json");
    fs.writeFileSync(
      policy,
      JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          { Effect: "Allow", Action: ["s3:GetBucketLocation", "s3:ListBucket"], Resource: [`arn:aws:s3:::${BUCKET}`] },
          { Effect: "Allow", Action: ["s3:GetObject"], Resource: [`arn:aws:s3:::${BUCKET}/*`] },
        ],
      }),
    );
    await minio.mc(["admin", "user", "add", "root", reader.accessKey], { stdin: `${reader.secretKey}\n` });
    await minio.mc(["admin", "policy", "create", "root", "pulumi-state-ro", policy]);
    await minio.mc(["admin", "policy", "attach", "root", "pulumi-state-ro", "--user", reader.accessKey]);
    const readOnly = { AWS_ACCESS_KEY_ID: reader.accessKey, AWS_SECRET_ACCESS_KEY: reader.secretKey, QM_CI_STATE_READ_ONLY: "true" };

    // The key really cannot write (so the preview below succeeding means it wrote nothing, not that it could).
    const probe = path.join(tmp, "probe.txt");
    fs.writeFileSync(probe, "probe");
    const denied = await run(
      "bash",
      ["-c", 'source scripts/env.sh >/dev/null && AWS_ACCESS_KEY_ID="$1" AWS_SECRET_ACCESS_KEY="$2" pulumi -C "$3" stack init probe-stack --secrets-provider passphrase', "probe", reader.accessKey, reader.secretKey, path.join(checkoutB, ".pulumi-state", "ci", STACK)],
      { cwd: checkoutB, env },
    );
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/AccessDenied|Access Denied|403/);

    const before = await bucketObjects();
    const preview = await ciStack(checkoutB, ["preview", STACK, "--json"], { QUAY_TOKEN: quay.connection.token, ...readOnly });
    expect({ code: preview.code, stderr: preview.stderr.slice(-3000) }).toEqual({ code: 0, stderr: expect.any(String) });
    const plan = JSON.parse(preview.stdout) as { steps: { op: string }[] };
    expect(plan.steps.filter((s) => s.op === "refresh").length).toBeGreaterThan(0);
    expect(await bucketObjects()).toEqual(before);

    // A stack that is not in the state yet: prepare says who creates it, and nothing is written.
    fs.copyFileSync(path.join(checkoutB, `Pulumi.${STACK}.yaml`), path.join(checkoutB, "Pulumi.ci-new.yaml"));
    const fresh = await ciStack(checkoutB, ["preview", "ci-new"], { QUAY_TOKEN: quay.connection.token, ...readOnly });
    expect(fresh.code).not.toBe(0);
    expect(fresh.stderr).toMatch(/stack ci-new is not in the shared state .* yet, and this job's state key may only read .*the gated up creates it/);
    expect(await bucketObjects()).toEqual(before);
  });
});
