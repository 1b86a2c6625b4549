// End-to-end harness: drives the REAL Pulumi engine (the CLI built by scripts/install-pulumi.sh) through
// the Automation API against a throw-away stack.
//
//   await withEngineStack({ program: "smoke", config: { dir }, secrets: { token } }, async (stack) => {
//     const up = await stack.up();            // steps, summary, outputs
//     const pre = await stack.preview();      // steps per resource: op, urn, type, name
//     const state = await stack.exportState();
//     expect(findPlaintext(state, token)).toEqual([]);
//   });
//
// Every stack gets its own file backend in a temporary directory (`file://…`) and the passphrase secrets
// provider; it is destroyed and removed, and its directories deleted, when the callback ends, pass or fail.
//
// Programs live in tests/programs/<name>/index.ts and default-export a function that declares the
// resources (and returns the stack outputs). How the engine runs them:
// - "inline" (the default): the program runs in this process and the CLI reaches it through `--client`,
//   the Automation API's inline-program mode. Needs no language host.
// - "local": the CLI runs the compiled program bin/tests/programs/<name>/index.js through the Node.js
//   language host `pulumi-language-nodejs` (built from sdk/v3@v3.68.0 by scripts/install-pulumi.sh), from a
//   generated Pulumi.yaml whose `main` is a generated one-line entry module that hands the program's default
//   export to @pulumi/pulumi's run script (a CommonJS module's `default` is not called on its own).
//   Choose it per stack (`mode: "local"`) or for a whole run with QM_ENGINE_MODE=local.
// In both modes the project directory is a git-ignored folder inside the repository (bin/.engine/…):
// dynamic providers are started by `pulumi-resource-pulumi-nodejs`, which resolves
// `@pulumi/pulumi/cmd/dynamic-provider` from the project directory, so node_modules must be reachable.
import { execFile, execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import {
    ConfigMap,
    Deployment,
    EngineEvent,
    LocalWorkspace,
    OpMap,
    OpType,
    PulumiCommand,
    PulumiFn,
    Stack,
} from "@pulumi/pulumi/automation";

const execFileAsync = promisify(execFile);

/** The repository root (this file is tests/support/engine.ts, or its compiled copy under bin/). */
export const repoRoot = findRepoRoot(__dirname);

function findRepoRoot(start: string): string {
    let dir = start;
    for (;;) {
        if (fs.existsSync(path.join(dir, "scripts", "env.sh")) && fs.existsSync(path.join(dir, "package.json"))) {
            return dir;
        }
        const parent = path.dirname(dir);
        if (parent === dir) {
            throw new Error(`cannot find the repository root above ${start}`);
        }
        dir = parent;
    }
}

/** The toolchain as scripts/env.sh describes it. */
export interface Toolchain {
    /** Environment after `source scripts/env.sh` (PATH with node and pulumi, PULUMI_HOME, offline flags). */
    env: Record<string, string>;
    /** Folder that holds `pulumi` and the plugins built next to it. */
    binDir: string;
    pulumiVersion: string;
    /** Whether the Node.js language host was built (otherwise programs run inline). */
    hasLanguageHost: boolean;
}

let cachedToolchain: Toolchain | undefined;

/**
 * Loads the environment of scripts/env.sh and checks that the engine is installed. Throws a clear error
 * telling how to install it when it is not.
 */
export function toolchain(): Toolchain {
    if (cachedToolchain) {
        return cachedToolchain;
    }
    const script =
        'set -euo pipefail; source "$1/scripts/env.sh" >/dev/null; ' +
        'printf "%s\\0%s\\0" "$QUAY_MIRROR_CACHE" "$PULUMI_VERSION"; env -0';
    const out = execFileSync("bash", ["-c", script, "engine-env", repoRoot], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
    });
    const [cache, pulumiVersion, ...vars] = out.split("\0");
    const env: Record<string, string> = {};
    for (const kv of vars) {
        const eq = kv.indexOf("=");
        if (eq > 0) {
            env[kv.slice(0, eq)] = kv.slice(eq + 1);
        }
    }
    const binDir = path.join(cache, `pulumi-${pulumiVersion}`, "bin");
    for (const exe of ["pulumi", "pulumi-resource-pulumi-nodejs"]) {
        if (!isExecutable(path.join(binDir, exe))) {
            throw new Error(
                `Pulumi toolchain missing: ${path.join(binDir, exe)} not found. ` +
                    "Run scripts/install-pulumi.sh (scripts/test.sh runs it before the tests).",
            );
        }
    }
    cachedToolchain = {
        env,
        binDir,
        pulumiVersion,
        hasLanguageHost: isExecutable(path.join(binDir, "pulumi-language-nodejs")),
    };
    return cachedToolchain;
}

/** The mode used when a stack does not choose one: $QM_ENGINE_MODE ("inline" or "local"), else "inline". */
export function defaultMode(): "inline" | "local" {
    const m = process.env.QM_ENGINE_MODE;
    if (m === undefined || m === "") {
        return "inline";
    }
    if (m !== "inline" && m !== "local") {
        throw new Error(`QM_ENGINE_MODE must be "inline" or "local", not ${JSON.stringify(m)}`);
    }
    return m;
}

function isExecutable(file: string): boolean {
    try {
        fs.accessSync(file, fs.constants.X_OK);
        return fs.statSync(file).isFile();
    } catch {
        return false;
    }
}

/** One engine step, as reported by a `resourcePreEvent`. */
export interface StepReport {
    op: OpType;
    urn: string;
    type: string;
    name: string;
    /** Property keys the provider or engine reported as changed, when any. */
    keys?: string[];
}

/** What an engine operation did. */
export interface OperationReport {
    /** Every step, in the order the engine announced them. */
    steps: StepReport[];
    /** Counts per operation, as the engine summarises them. */
    summary: OpMap;
    /** Diagnostics the engine or the program printed (severity and message). */
    diagnostics: { severity: string; message: string; urn?: string }[];
    stdout: string;
    stderr: string;
}

export interface UpReport extends OperationReport {
    outputs: Record<string, { value: unknown; secret: boolean }>;
}

export interface EngineStackOptions {
    /** Folder name under tests/programs. */
    program: string;
    /** Plain config values; keys without a namespace get the project's. */
    config?: Record<string, string>;
    /** Secret config values (stored encrypted with the stack's passphrase). */
    secrets?: Record<string, string>;
    /** "inline" or "local"; default: $QM_ENGINE_MODE, else "inline". "local" needs the language host. */
    mode?: "inline" | "local";
    /** Project name; default `qm-test-<program>`. */
    projectName?: string;
    /** Extra environment for the CLI, the program and the providers. */
    env?: Record<string, string>;
}

/** Maps a step's op to the op of the resource's "main" step, for quick lookups by name. */
function nameFromUrn(urn: string): string {
    const i = urn.lastIndexOf("::");
    return i >= 0 ? urn.slice(i + 2) : urn;
}

/** A throw-away stack on a temporary file backend. Create it with {@link EngineStack.create}. */
export class EngineStack {
    private cleaned = false;

    private constructor(
        readonly stack: Stack,
        readonly mode: "inline" | "local",
        readonly workDir: string,
        readonly stateDir: string,
        readonly passphrase: string,
        private readonly envVars: Record<string, string>,
    ) {}

    get name(): string {
        return this.stack.name;
    }

    static async create(opts: EngineStackOptions): Promise<EngineStack> {
        const tc = toolchain();
        const mode = opts.mode ?? defaultMode();
        if (mode === "local" && !tc.hasLanguageHost) {
            throw new Error(`mode "local" needs pulumi-language-nodejs in ${tc.binDir}`);
        }
        const projectName = opts.projectName ?? `qm-test-${opts.program}`;
        const stackName = `t${process.pid}-${crypto.randomBytes(4).toString("hex")}`;
        const compiled = path.join(repoRoot, "bin", "tests", "programs", opts.program, "index.js");
        if (mode === "local" && !fs.existsSync(compiled)) {
            throw new Error(`${compiled} not found: compile the tests with \`npx tsc -p .\` first`);
        }

        const engineRoot = path.join(repoRoot, "bin", ".engine");
        fs.mkdirSync(engineRoot, { recursive: true });
        const workDir = fs.mkdtempSync(path.join(engineRoot, `${opts.program}-`));
        const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "qm-engine-state-"));
        const passphrase = crypto.randomBytes(18).toString("base64");
        const backendUrl = `file://${stateDir}`;
        const envVars: Record<string, string> = {
            ...tc.env,
            ...opts.env,
            PULUMI_BACKEND_URL: backendUrl,
            PULUMI_CONFIG_PASSPHRASE: passphrase,
        };
        delete envVars.PULUMI_CONFIG_PASSPHRASE_FILE;
        delete envVars.PULUMI_ACCESS_TOKEN;

        try {
            const pulumiCommand = await PulumiCommand.get({ root: path.dirname(tc.binDir) });
            let main = path.relative(workDir, compiled);
            if (mode === "local") {
                main = "main.js";
                fs.writeFileSync(
                    path.join(workDir, main),
                    "// Generated by tests/support/engine.ts: the program is the default export of the compiled module.\n" +
                        `const m = require(${JSON.stringify(compiled)});\n` +
                        'module.exports = typeof m === "function" ? m : m.default;\n',
                );
            }
            const projectSettings = {
                name: projectName,
                runtime: { name: "nodejs" as const, options: { typescript: false } },
                main,
                backend: { url: backendUrl },
            };
            const wsOpts = {
                workDir,
                pulumiHome: tc.env.PULUMI_HOME,
                pulumiCommand,
                envVars,
                secretsProvider: "passphrase",
                projectSettings,
            };
            const stack =
                mode === "inline"
                    ? await LocalWorkspace.createStack({ projectName, stackName, program: inlineProgram(opts.program) }, wsOpts)
                    : await LocalWorkspace.createStack({ stackName, workDir }, wsOpts);
            const es = new EngineStack(stack, mode, workDir, stateDir, passphrase, envVars);
            const config: ConfigMap = {};
            for (const [k, v] of Object.entries(opts.config ?? {})) {
                config[k] = { value: v, secret: false };
            }
            for (const [k, v] of Object.entries(opts.secrets ?? {})) {
                config[k] = { value: v, secret: true };
            }
            if (Object.keys(config).length > 0) {
                await stack.setAllConfig(config);
            }
            return es;
        } catch (e) {
            fs.rmSync(workDir, { recursive: true, force: true });
            fs.rmSync(stateDir, { recursive: true, force: true });
            throw e;
        }
    }

    async setConfig(key: string, value: string, secret = false): Promise<void> {
        await this.stack.setConfig(key, { value, secret });
    }

    /** `pulumi preview`; with `refresh: true`, `pulumi preview --refresh` (reads live state first). */
    async preview(opts: { refresh?: boolean } = {}): Promise<OperationReport> {
        const rec = recorder();
        const res = await this.stack.preview({ onEvent: rec.onEvent, color: "never", diff: true, refresh: opts.refresh });
        return rec.report(res.changeSummary, res.stdout, res.stderr);
    }

    /** `pulumi up`; with `refresh`, `up --refresh` (what the gated workflow runs). */
    async up(opts: { refresh?: boolean } = {}): Promise<UpReport> {
        const rec = recorder();
        const res = await this.stack.up({ onEvent: rec.onEvent, color: "never", refresh: opts.refresh });
        const outputs: UpReport["outputs"] = {};
        for (const [k, v] of Object.entries(res.outputs)) {
            outputs[k] = { value: v.value, secret: v.secret };
        }
        return { ...rec.report(res.summary.resourceChanges ?? {}, res.stdout, res.stderr), outputs };
    }

    /** `pulumi refresh`; with `previewOnly`, `refresh --preview-only` (nothing written to state). */
    async refresh(previewOnly = false): Promise<OperationReport> {
        const rec = recorder();
        if (previewOnly) {
            const res = await this.stack.previewRefresh({ onEvent: rec.onEvent, color: "never" });
            return rec.report(res.changeSummary, res.stdout, res.stderr);
        }
        const res = await this.stack.refresh({ onEvent: rec.onEvent, color: "never" });
        return rec.report(res.summary.resourceChanges ?? {}, res.stdout, res.stderr);
    }

    async destroy(): Promise<OperationReport> {
        const rec = recorder();
        const res = await this.stack.destroy({ onEvent: rec.onEvent, color: "never" });
        return rec.report(res.summary.resourceChanges ?? {}, res.stdout, res.stderr);
    }

    /**
     * `pulumi stack export`: the deployment JSON as it is stored, secrets encrypted. (The Automation API's
     * own `exportStack()` adds `--show-secrets`, which decrypts them: use `showSecrets` for that.)
     */
    async exportState(opts: { showSecrets?: boolean } = {}): Promise<Deployment> {
        const args = ["stack", "export", "--stack", this.stack.name];
        if (opts.showSecrets) {
            args.push("--show-secrets");
        }
        const { stdout } = await execFileAsync(path.join(toolchain().binDir, "pulumi"), [...args, "--non-interactive"], {
            cwd: this.workDir,
            env: { ...process.env, ...this.envVars },
            maxBuffer: 256 * 1024 * 1024,
        });
        return JSON.parse(stdout) as Deployment;
    }

    /** Resources in the exported state (without the stack and default providers when `userOnly`). */
    async resources(userOnly = true): Promise<{ urn: string; type: string; id?: string; outputs?: Record<string, unknown> }[]> {
        const dep = await this.exportState();
        const all: { urn: string; type: string; id?: string; outputs?: Record<string, unknown> }[] =
            dep.deployment?.resources ?? [];
        return userOnly
            ? all.filter((r) => r.type !== "pulumi:pulumi:Stack" && !r.type.startsWith("pulumi:providers:"))
            : all;
    }

    /** Destroys what is left, removes the stack and deletes its directories. Safe to call twice. */
    async cleanup(): Promise<void> {
        if (this.cleaned) {
            return;
        }
        this.cleaned = true;
        const errors: unknown[] = [];
        try {
            // A throw-away stack: its organizations go with whatever repositories tests pushed or pre-seeded
            // into them (a real destroy refuses that unless told: providers/quay/organization.ts).
            const ws = this.stack.workspace as unknown as { envVars?: Record<string, string> };
            if (ws.envVars) ws.envVars.QUAY_MIRROR_DELETE_REPOSITORIES = "*";
            await this.stack.destroy({ color: "never" });
        } catch (e) {
            errors.push(e);
        }
        try {
            await this.stack.workspace.removeStack(this.stack.name, { force: true });
        } catch (e) {
            errors.push(e);
        }
        fs.rmSync(this.workDir, { recursive: true, force: true });
        fs.rmSync(this.stateDir, { recursive: true, force: true });
        if (errors.length > 0) {
            throw new Error(`cleanup of stack ${this.name} failed: ${errors.map(String).join("; ")}`);
        }
    }
}

/**
 * Creates a throw-away stack, runs `fn` with it and always cleans up (destroy, remove the stack, delete
 * the temporary directories), also when `fn` throws. The error of `fn` wins over a cleanup error.
 */
export async function withEngineStack<T>(opts: EngineStackOptions, fn: (stack: EngineStack) => Promise<T>): Promise<T> {
    const stack = await EngineStack.create(opts);
    let result: T;
    try {
        result = await fn(stack);
    } catch (e) {
        await stack.cleanup().catch(() => undefined);
        throw e;
    }
    await stack.cleanup();
    return result;
}

/** The inline program: loads tests/programs/<name> and calls its default export on each run. */
function inlineProgram(name: string): PulumiFn {
    // Next to this module: tests/programs/<name>/index.ts under ts-jest, bin/tests/programs/<name>/index.js
    // when the compiled harness runs (bench/).
    const source = path.join(__dirname, "..", "programs", name, "index");
    return async () => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const mod = require(source);
        const fn = typeof mod === "function" ? mod : mod.default;
        if (typeof fn !== "function") {
            throw new Error(`tests/programs/${name} must default-export a function that declares the resources`);
        }
        return fn();
    };
}

function recorder() {
    const steps: StepReport[] = [];
    const diagnostics: OperationReport["diagnostics"] = [];
    const onEvent = (ev: EngineEvent) => {
        if (ev.resourcePreEvent) {
            const m = ev.resourcePreEvent.metadata;
            steps.push({ op: m.op, urn: m.urn, type: m.type, name: nameFromUrn(m.urn), keys: m.keys });
        } else if (ev.diagnosticEvent) {
            const d = ev.diagnosticEvent;
            diagnostics.push({ severity: d.severity, message: d.message, urn: d.urn });
        }
    };
    const report = (summary: OpMap, stdout: string, stderr: string): OperationReport => ({
        steps,
        summary,
        diagnostics,
        stdout,
        stderr,
    });
    return { onEvent, report };
}

/** The steps of one resource, found by its logical name (and optionally type). */
export function stepsFor(report: OperationReport, name: string, type?: string): StepReport[] {
    return report.steps.filter((s) => s.name === name && (type === undefined || s.type === type));
}

/**
 * Where `needle` occurs in plain text inside a JSON value (a `Deployment` from `exportState`, say): the
 * JSON paths of every string that contains it. An empty list means it is absent.
 */
export function findPlaintext(value: unknown, needle: string): string[] {
    if (needle === "") {
        throw new Error("findPlaintext: empty needle");
    }
    const hits: string[] = [];
    const walk = (v: unknown, at: string) => {
        if (typeof v === "string") {
            if (v.includes(needle)) {
                hits.push(at);
            }
        } else if (Array.isArray(v)) {
            v.forEach((x, i) => walk(x, `${at}[${i}]`));
        } else if (v !== null && typeof v === "object") {
            for (const [k, x] of Object.entries(v)) {
                if (k.includes(needle)) {
                    hits.push(`${at}.<key ${k}>`);
                }
                walk(x, `${at}.${k}`);
            }
        }
    };
    walk(value, "$");
    return hits;
}
