// Issue #8, pull-request previews: the workflows in .github/workflows pass actionlint (built from its Go module
// by scripts/install-tools.sh; with shellcheck on PATH it also checks every `run:` script) and have the shape
// the design asks for: previews on pull requests through Pulumi's own action, commented on the pull request;
// `up` only on a push to main, behind an environment; the lab's self-hosted runners; no secret value inline.
// Issue 14 point 6: a preview runs the pull request's code, so it gets only the `quay-lab-preview`
// environment (read-only state key), on its own runner; the gated up checks the cached toolchain against
// the committed hashes before running it; the state is reached over TLS.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { repoRoot } from "../support/engine";
import { toolsBinDir } from "../support/minio";
import { Job, PREVIEW_WORKFLOW, Step, UP_WORKFLOW, Workflow, loadWorkflow, run, workflowBackendUrl, workflowsDir } from "./workflow-files";

const PREVIEW_RUNNER = ["self-hosted", "quay-lab-preview"];
const DEPLOY_RUNNER = ["self-hosted", "quay-lab-deploy"];
/** Secrets only the production environment `quay-lab` holds: the state key that can write. */
const WRITE_STATE_SECRETS = ["PULUMI_STATE_ACCESS_KEY", "PULUMI_STATE_SECRET_KEY"];
const secretsOf = (value: unknown): string[] => [...JSON.stringify(value ?? null).matchAll(/secrets\.([A-Z0-9_]+)/g)].map((m) => m[1]);
const PULUMI_ACTION = /^pulumi\/actions@v\d+$/;

function actionlint(args: string[], cwd = repoRoot) {
  return run(path.join(toolsBinDir(), "actionlint"), ["-no-color", "-oneline", ...args], { cwd, env: process.env as Record<string, string> });
}

const pulumiSteps = (job: Job): Step[] => (job.steps ?? []).filter((s) => PULUMI_ACTION.test(s.uses ?? ""));
const environmentName = (job: Job) => (typeof job.environment === "string" ? job.environment : job.environment?.name);

describe("the pull-request workflows", () => {
  let preview: Workflow;
  let up: Workflow;
  beforeAll(() => {
    preview = loadWorkflow(PREVIEW_WORKFLOW);
    up = loadWorkflow(UP_WORKFLOW);
  });

  test("actionlint finds nothing, and it does check: a misspelt input of pulumi/actions and an unknown runner label are errors", async () => {
    const clean = await actionlint([]);
    expect({ code: clean.code, out: clean.stdout + clean.stderr }).toEqual({ code: 0, out: "" });
    // The same files must lint clean one by one (what actionlint saw is exactly these two files).
    expect(fs.readdirSync(workflowsDir).sort()).toEqual(["pulumi-preview.yml", "pulumi-up.yml"]);

    // Negative controls in a scratch repository: the checks above could fail.
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "qm-actionlint-"));
    try {
      fs.mkdirSync(path.join(scratch, ".github", "workflows"), { recursive: true });
      fs.copyFileSync(path.join(repoRoot, ".github", "actionlint.yaml"), path.join(scratch, ".github", "actionlint.yaml"));
      const broken = path.join(scratch, ".github", "workflows", "broken.yml");
      fs.writeFileSync(
        broken,
        fs
          .readFileSync(PREVIEW_WORKFLOW, "utf8")
          .replace("comment-on-pr: true", "comment-on-pull-request: true")
          .replace('run: bash scripts/ci-stack.sh prepare "$STACK"', "run: bash scripts/ci-stack.sh prepare $STACK"),
      );
      const misspelt = await actionlint([broken], scratch);
      expect(misspelt.code).not.toBe(0);
      expect(misspelt.stdout).toMatch(/input "comment-on-pull-request" is not defined in action "pulumi\/actions@v\d+"/);
      // shellcheck runs on the `run:` scripts (an unquoted variable is SC2086).
      expect(misspelt.stdout).toMatch(/shellcheck reported issue in this script: SC2086/);
      fs.rmSync(path.join(scratch, ".github", "actionlint.yaml"));
      const unlabelled = await actionlint([broken], scratch);
      expect(unlabelled.stdout).toMatch(/label "quay-lab-preview" is unknown/);
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  });

  test("preview: on pull requests to main, per changed stack, Pulumi's action previews and comments on the pull request", () => {
    expect(Object.keys(preview.on)).toEqual(["pull_request"]);
    expect(preview.permissions).toEqual({ contents: "read", "pull-requests": "write" });
    const job = preview.jobs.preview;
    expect(job.needs).toBe("stacks");
    expect(job.strategy?.matrix?.stack).toBe("${{ fromJSON(needs.stacks.outputs.stacks) }}");
    expect(preview.jobs.stacks.steps?.some((s) => /ci-stack\.sh changed-stacks "\$BASE_SHA" HEAD/.test(s.run ?? ""))).toBe(true);
    expect(environmentName(job)).toBe("quay-lab-preview");
    const [step, ...others] = pulumiSteps(job);
    expect(others).toEqual([]);
    expect(step.with).toMatchObject({
      command: "preview",
      "stack-name": "${{ matrix.stack }}",
      "comment-on-pr": true,
      diff: true,
      "cloud-url": "${{ env.PULUMI_BACKEND_URL }}",
      "work-dir": "${{ steps.prepare.outputs.work-dir }}",
    });
    // The preview job never runs `up`, and fork pull requests (which must not get the lab's secrets) are skipped.
    expect(JSON.stringify(preview)).not.toMatch(/command: up|"command":"up"/);
    expect(preview.jobs.stacks.if).toBe("github.event.pull_request.head.repo.full_name == github.repository");
  });

  test("up: only on a push to main, behind the quay-lab environment, after a plan job, never cancelled", () => {
    expect(up.on).toEqual({ push: { branches: ["main"] } });
    const upJobs = Object.entries(up.jobs).filter(([, j]) => pulumiSteps(j).some((s) => s.with?.command === "up"));
    expect(upJobs.map(([name]) => name)).toEqual(["up"]);
    const job = up.jobs.up;
    expect(environmentName(job)).toBe("quay-lab");
    expect(environmentName(up.jobs.plan)).toBe("quay-lab-preview");
    expect(job.needs).toEqual(["stacks", "plan"]);
    expect(job.concurrency).toEqual({ group: "pulumi-up-${{ matrix.stack }}", "cancel-in-progress": false });
    expect(pulumiSteps(up.jobs.plan).map((s) => s.with?.command)).toEqual(["preview"]);
    expect(up.jobs.stacks.steps?.some((s) => /ci-stack\.sh changed-stacks "\$BEFORE_SHA" HEAD/.test(s.run ?? ""))).toBe(true);
  });

  test("both: the lab's self-hosted runners, the shared S3 state on the lab's MinIO, the toolchain from scripts/ci-stack.sh, concurrency per stack", () => {
    for (const [wf, runner] of [
      [preview, PREVIEW_RUNNER],
      [up, DEPLOY_RUNNER],
    ] as const) {
      for (const [name, job] of Object.entries(wf.jobs)) {
        expect({ name, runsOn: job["runs-on"] }).toEqual({ name, runsOn: runner });
        for (const step of pulumiSteps(job)) {
          // The action runs in the directory prepare made, with the CLI prepare put on PATH.
          const i = job.steps!.indexOf(step);
          const prepare = job.steps!.slice(0, i).find((s) => s.id === "prepare");
          expect(prepare?.run).toBe('bash scripts/ci-stack.sh prepare "$STACK"');
          expect(step.with?.["pulumi-version"]).toBe("${{ steps.prepare.outputs.pulumi-version }}");
          expect(job.concurrency?.group).toMatch(/^pulumi-(preview|up)-\$\{\{ matrix\.stack \}\}/);
          expect(step.uses).toBe("pulumi/actions@v6");
          // Every preview and up runs the guardrails (policy/): a mandatory violation fails the job.
          expect(step.with?.policyPacks).toBe("${{ steps.prepare.outputs.policy-pack }}");
          // Drift made by hand shows in the plan and is repaired by the up.
          expect(step.with?.refresh).toBe(true);
        }
      }
    }
    const url = new URL(workflowBackendUrl(PREVIEW_WORKFLOW));
    expect(url.protocol).toBe("s3:");
    expect(url.host).toBe("pulumi-state");
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      // TLS: the state holds every secret of the lab (encrypted) and the key that reads it.
      endpoint: "https://minio.v7.comptech-lab.com:9000",
      region: "us-east-1",
      use_path_style: "true",
    });
    expect(workflowBackendUrl(UP_WORKFLOW)).toBe(workflowBackendUrl(PREVIEW_WORKFLOW));
  });

  test("no secret value inline: every secret comes from ${{ secrets.* }}, and only into env", () => {
    for (const file of [PREVIEW_WORKFLOW, UP_WORKFLOW]) {
      const text = fs.readFileSync(file, "utf8");
      const wf = loadWorkflow(file);
      const secretish = /(PASSPHRASE|SECRET|TOKEN|ACCESS_KEY|PRIVATE_KEY|PASSWORD)/;
      const check = (where: string, vars: Record<string, string> | undefined) => {
        for (const [k, v] of Object.entries(vars ?? {})) {
          if (secretish.test(k)) expect({ where, k, v }).toEqual({ where, k, v: expect.stringMatching(/^\$\{\{ secrets\.[A-Z0-9_]+ \}\}$/) });
        }
      };
      check(`${file} env`, wf.env);
      for (const [name, job] of Object.entries(wf.jobs)) {
        check(`${file} ${name}`, job.env);
        for (const step of job.steps ?? []) {
          check(`${file} ${name} ${step.name ?? step.uses}`, step.env);
          // Secrets reach commands through env only: never expanded into a script (argv, logs).
          expect(step.run ?? "").not.toMatch(/secrets\./);
          for (const v of Object.values(step.with ?? {})) expect(String(v)).not.toMatch(/secrets\./);
        }
      }
      // Nothing that looks like a key, a token or a passphrase written out.
      expect(text).not.toMatch(/-----BEGIN|AKIA[0-9A-Z]{16}|PULUMI_CONFIG_PASSPHRASE: [^$]/);
      // The secrets the docs tell the operator to configure are the ones used.
      const used = [...text.matchAll(/secrets\.([A-Z0-9_]+)/g)].map((m) => m[1]);
      expect(new Set(used)).toEqual(
        new Set([
          ...(file === UP_WORKFLOW ? WRITE_STATE_SECRETS : []),
          "PULUMI_STATE_READONLY_ACCESS_KEY",
          "PULUMI_STATE_READONLY_SECRET_KEY",
          "PULUMI_CONFIG_PASSPHRASE",
          "QUAY_TOKEN",
          // The SSH key: only the gated up's agent step (below).
          ...(file === UP_WORKFLOW ? ["QM_SSH_PRIVATE_KEY"] : []),
          "QM_STORAGE_SECRET_KEY",
          "QM_MINIO_ADMIN_SECRET_KEY",
          "QM_BACKUP_PASSPHRASE",
        ]),
      );
      const docs = fs.readFileSync(path.join(repoRoot, "docs", "pull-request-previews.md"), "utf8");
      for (const s of used) expect({ s, documented: docs.includes(s) }).toEqual({ s, documented: true });
    }
  });

  test("scripts/ci-stack.sh and scripts/verify-toolchain.sh are shellcheck-clean", async () => {
    const r = await run("shellcheck", ["-x", "--severity=style", "scripts/ci-stack.sh", "scripts/verify-toolchain.sh"], { cwd: repoRoot, env: process.env as Record<string, string> });
    expect({ code: r.code, out: r.stdout + r.stderr }).toEqual({ code: 0, out: "" });
  });

  test("a pull request's code gets no production secret: every secret comes from an environment, the preview's is quay-lab-preview with a read-only state key", () => {
    // Repository secrets reach every job, a pull request's included (it may even edit the workflow): so no
    // job takes a secret without naming the environment that holds it.
    for (const wf of [preview, up]) {
      for (const [name, job] of Object.entries(wf.jobs)) {
        if (secretsOf(job).length > 0) expect({ name, environment: environmentName(job) }).toEqual({ name, environment: expect.stringMatching(/^quay-lab(-preview)?$/) });
      }
    }
    expect(secretsOf(preview.env)).toEqual([]);
    expect(secretsOf(up.env)).toEqual([]);
    // The preview workflow never names the production environment, nor the state key that can write.
    for (const job of Object.values(preview.jobs)) expect(environmentName(job)).not.toBe("quay-lab");
    const previewSecrets = secretsOf(preview.jobs);
    for (const s of WRITE_STATE_SECRETS) expect(previewSecrets).not.toContain(s);
    // The preview's state credentials are the read-only ones, and prepare is told it may not create a stack.
    const job = preview.jobs.preview;
    expect(job.env).toMatchObject({
      AWS_ACCESS_KEY_ID: "${{ secrets.PULUMI_STATE_READONLY_ACCESS_KEY }}",
      AWS_SECRET_ACCESS_KEY: "${{ secrets.PULUMI_STATE_READONLY_SECRET_KEY }}",
      QM_CI_STATE_READ_ONLY: "true",
    });
    // So is the plan job of the up workflow (a preview too); only the gated up job has the write key.
    expect(up.jobs.plan.env).toMatchObject({ AWS_ACCESS_KEY_ID: "${{ secrets.PULUMI_STATE_READONLY_ACCESS_KEY }}", QM_CI_STATE_READ_ONLY: "true" });
    const withWriteKey = Object.entries(up.jobs).filter(([, j]) => secretsOf(j).some((s) => WRITE_STATE_SECRETS.includes(s)));
    expect(withWriteKey.map(([n, j]) => [n, environmentName(j)])).toEqual([["up", "quay-lab"]]);
    // Previews and ups never share a runner (its cache, home and installation): disjoint labels.
    const labels = (wf: Workflow) => new Set(Object.values(wf.jobs).flatMap((j) => (j["runs-on"] as string[]).filter((l) => l !== "self-hosted")));
    const shared = [...labels(preview)].filter((l) => labels(up).has(l));
    expect(shared).toEqual([]);
  });

  test("no SSH key for a preview: only the gated up job has it, in one step that loads it into an ssh-agent (stdin), stopped at the end", () => {
    // A preview never dials the host, and the stack's host.connection.agentSocketPath keeps the key out of
    // the program and the state: the preview workflow and the plan job name no SSH key at all.
    expect(fs.readFileSync(PREVIEW_WORKFLOW, "utf8")).not.toMatch(/SSH_PRIVATE_KEY|sshPrivateKey|ssh-agent|ssh-add/);
    expect(secretsOf(up.jobs.plan)).not.toContain("QM_SSH_PRIVATE_KEY");
    expect(JSON.stringify(up.jobs.plan)).not.toMatch(/SSH_PRIVATE_KEY|start-agent/);
    expect(secretsOf(up.jobs.stacks)).toEqual([]);
    // In the up job: not in the job's environment, not in prepare's (it would become a setting, then state),
    // only in the agent step, after the toolchain check and before the engine.
    const job = up.jobs.up;
    const steps = job.steps ?? [];
    expect(secretsOf(job.env)).not.toContain("QM_SSH_PRIVATE_KEY");
    const holders = steps.filter((st) => secretsOf(st).includes("QM_SSH_PRIVATE_KEY"));
    expect(holders.map((st) => [st.run, st.env])).toEqual([
      ['bash scripts/ci-stack.sh start-agent "$STACK"', { STACK: "${{ matrix.stack }}", QM_SSH_PRIVATE_KEY: "${{ secrets.QM_SSH_PRIVATE_KEY }}" }],
    ]);
    const start = steps.indexOf(holders[0]!);
    const strict = steps.findIndex((st) => /^bash scripts\/verify-toolchain\.sh check$/.test(st.run ?? ""));
    const engine = steps.findIndex((st) => PULUMI_ACTION.test(st.uses ?? ""));
    const stop = steps.findIndex((st) => st.run === 'bash scripts/ci-stack.sh stop-agent "$STACK"');
    expect({ strict, start, engine, stop }).toEqual({ strict, start: strict + 1, engine: start + 1, stop: engine + 1 });
    // The agent is stopped even when the up fails.
    expect((steps[stop] as Step & { if?: string }).if).toBe("always()");
    expect(steps.slice(stop + 1)).toEqual([]);
    // start-agent hands the key to `ssh-add -` on stdin (a shell builtin writes it: no command line holds
    // it; tests/ecosystem/ci-agent.test.ts runs it).
    const script = fs.readFileSync(path.join(repoRoot, "scripts", "ci-stack.sh"), "utf8");
    const keyLines = script.split("\n").filter((l) => /\$\{?QM_SSH_PRIVATE_KEY\b/.test(l) && !/^\s*#/.test(l));
    expect(keyLines.map((l) => l.trim())).toEqual(['local out pid rc=0 key="${QM_SSH_PRIVATE_KEY:-}"']);
    const startAgent = script.slice(script.indexOf("start_agent() {"), script.indexOf("\n}\n", script.indexOf("start_agent() {")));
    // taken out of the environment at once (no child inherits it), then only ever written to ssh-add's stdin
    expect(startAgent).toMatch(/key="\$\{QM_SSH_PRIVATE_KEY:-\}"\n(\s*#.*\n)*\s*unset QM_SSH_PRIVATE_KEY\n/);
    expect(startAgent.split("\n").filter((l) => /\$key\b/.test(l)).map((l) => l.trim())).toEqual([
      expect.stringMatching(/^\[ -n "\$key" \] \|\| die /),
      expect.stringMatching(/^if ! printf '%s\\n' "\$key" \| SSH_AUTH_SOCK="\$AGENT_SOCK" ssh-add -q -t [0-9]+ - /),
    ]);
  });

  test("the cached toolchain is checked against scripts/toolchain.sha256 before a job of the up workflow runs it, and again before the engine runs", () => {
    for (const name of ["plan", "up"]) {
      const steps = up.jobs[name].steps ?? [];
      const at = (re: RegExp) => steps.findIndex((s) => re.test(s.run ?? ""));
      const prepare = steps.findIndex((s) => s.id === "prepare");
      const loose = at(/^bash scripts\/verify-toolchain\.sh check --allow-missing$/);
      const strict = at(/^bash scripts\/verify-toolchain\.sh check$/);
      const engine = steps.findIndex((s) => PULUMI_ACTION.test(s.uses ?? ""));
      // checkout, then the check (files not built yet allowed), prepare (builds them and runs pulumi), the full check, the engine.
      expect({ name, order: [loose, prepare, strict, engine].every((v, i, a) => v >= 0 && (i === 0 || v > a[i - 1])) }).toEqual({ name, order: true });
      expect(steps.slice(0, loose).every((s) => s.uses === "actions/checkout@v5")).toBe(true);
    }
  });
});
