// The pull-request workflows as data, for tests/ecosystem/*.test.ts: the files, their parsed YAML, and the
// state backend URL they declare.
import { execFile } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { repoRoot } from "../support/engine";

export const workflowsDir = path.join(repoRoot, ".github", "workflows");
export const PREVIEW_WORKFLOW = path.join(workflowsDir, "pulumi-preview.yml");
export const UP_WORKFLOW = path.join(workflowsDir, "pulumi-up.yml");

/** A step or job as the YAML says it; only the keys the tests read are typed. */
export interface Step {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}

export interface Job {
  "runs-on"?: unknown;
  needs?: string | string[];
  if?: string;
  environment?: string | { name: string };
  concurrency?: { group: string; "cancel-in-progress"?: boolean | string };
  strategy?: { matrix?: Record<string, unknown> };
  env?: Record<string, string>;
  steps?: Step[];
}

export interface Workflow {
  name?: string;
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  env?: Record<string, string>;
  jobs: Record<string, Job>;
}

export function loadWorkflow(file: string): Workflow {
  return YAML.parse(fs.readFileSync(file, "utf8")) as Workflow;
}

/** The workflow's state backend (its `env.PULUMI_BACKEND_URL`). */
export function workflowBackendUrl(file: string): string {
  const url = loadWorkflow(file).env?.PULUMI_BACKEND_URL;
  if (typeof url !== "string" || url === "") throw new Error(`${file}: env.PULUMI_BACKEND_URL is not set`);
  return url;
}

/** The same backend URL with the endpoint swapped for another S3 endpoint (a test's MinIO). */
export function withEndpoint(backendUrl: string, endpoint: string): string {
  const u = new URL(backendUrl);
  if (!u.searchParams.has("endpoint")) throw new Error(`${backendUrl} has no endpoint parameter`);
  u.searchParams.set("endpoint", endpoint);
  // URLSearchParams encodes ':' and '/' in the endpoint; the gocloud driver decodes them, but keep the URL
  // readable like the workflow's.
  return `${u.protocol}//${u.host}${u.pathname}?${decodeURIComponent(u.searchParams.toString())}`;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command without a shell; never rejects (the caller looks at `code`). */
export function run(cmd: string, args: string[], opts: { cwd: string; env: Record<string, string>; timeoutMs?: number }): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { cwd: opts.cwd, env: opts.env, maxBuffer: 256 * 1024 * 1024, timeout: opts.timeoutMs ?? 600_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}
