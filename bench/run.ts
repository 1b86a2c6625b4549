// npm run bench -- --repos 1000 [--latency-ms 50] [--max-concurrent 8] [--client-concurrency 8]
//                  [--no-baseline] [--mode inline|local] [--out bench/results] [--label text] [--env KEY=VALUE]…
//
// The real program (components/program.ts via tests/programs/lab) through the real engine
// (tests/support/engine.ts) against the Quay API emulator, in existing-registry mode with the lab model and a
// generated oc-mirror mapping of N destination repositories. Phases: up from empty, preview (nothing to do),
// up (nothing to do), refresh, up after an oc-mirror pass that created 10 % new repositories. Then the
// baseline: the lab's sequential idempotent seeder on the same model against a fresh emulator.
// Per phase: wall time, API calls by route (the emulator's counter), writes, peak memory per process, and
// the floor = unavoidable calls × latency ÷ concurrency cap. See docs/performance.md.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadRegistryModel } from "../config/model";
import { EngineStack, EngineStackOptions, repoRoot, toolchain, OperationReport } from "../tests/support/engine";
import { seedSequentially } from "./seeder";
import { HOST, MIRROR_NAMESPACES, MemorySampler, destination, ocMirrorPass, startEmulatorProcess, writeMappings } from "./support";

interface Options {
  repos: number;
  latencyMs: number;
  maxConcurrent: number;
  clientConcurrency: number;
  baseline: boolean;
  mode: "inline" | "local";
  out: string;
  label: string;
  /** Extra environment for the engine, the program's providers (KEY=VALUE, repeatable). */
  env: Record<string, string>;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { repos: 1000, latencyMs: 50, maxConcurrent: 8, clientConcurrency: 8, baseline: true, mode: "inline", out: path.join(repoRoot, "bench", "results"), label: "", env: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`missing value for ${a}`);
      return argv[++i];
    };
    const num = () => {
      const n = Number(val());
      if (!Number.isInteger(n) || n < 0) throw new Error(`${a} needs a non-negative integer`);
      return n;
    };
    if (a === "--repos") o.repos = num();
    else if (a === "--latency-ms") o.latencyMs = num();
    else if (a === "--max-concurrent") o.maxConcurrent = num();
    else if (a === "--client-concurrency") o.clientConcurrency = num();
    else if (a === "--no-baseline") o.baseline = false;
    else if (a === "--mode") o.mode = val() as Options["mode"];
    else if (a === "--out") o.out = path.resolve(val());
    else if (a === "--label") o.label = val();
    else if (a === "--env") {
      const kv = val();
      const eq = kv.indexOf("=");
      if (eq <= 0) throw new Error("--env needs KEY=VALUE");
      o.env[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
    else throw new Error(`unknown option ${a} (see bench/run.ts)`);
  }
  if (o.mode !== "inline" && o.mode !== "local") throw new Error("--mode is inline or local");
  return o;
}

interface PhaseResult {
  phase: string;
  wallMs: number;
  engine: Record<string, number>;
  calls: Record<string, number>;
  totalCalls: number;
  writes: number;
  unavoidableCalls: number;
  floorMs: number;
  peakMiB: Record<string, number>;
  processes: Record<string, number>;
  /** Size of the stack's checkpoint file after the phase (the file backend rewrites it after every step). */
  stateBytes?: number;
  notes?: string;
}

const PAGE = 100; // Quay lists 100 repositories per page.
const pages = (n: number) => Math.max(1, Math.ceil(n / PAGE));

function sortCounts(c: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(c).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const tc = toolchain();
  const started = new Date();
  const loadAtStart = os.loadavg().map((x) => Math.round(x * 100) / 100);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "qm-bench-"));
  const modelFile = path.join(repoRoot, "data/quay/bootstrap-model.json");
  const model = loadRegistryModel(modelFile);
  const N = opts.repos;
  const extra = Math.round(N * 0.1);
  const mirrorRepos = Array.from({ length: N }, (_, i) => destination(i));
  const newRepos = Array.from({ length: extra }, (_, i) => destination(N + i));
  const mappings = writeMappings(work, N);
  const perNs = (list: { organization: string }[], ns: string) => list.filter((r) => r.organization === ns).length;
  const modelRepos = (ns: string) => model.repositories.filter((r) => r.organization === ns).length;

  // Objects the program creates, each needing one write at least (the user two: Quay generates a password,
  // the program sets its own).
  const prototypes = model.namespacePermissions.length + (model.clusterPullUser?.namespaces.length ?? 0);
  const members = model.teams.reduce((s, t) => s + t.members.length, 0);
  const objects = model.organizations.length + model.robots.length + model.teams.length + members + prototypes + (model.clusterPullUser ? 2 : 0) + model.repositories.length + N;
  const listPages = (extraRepos: { organization: string }[]) =>
    MIRROR_NAMESPACES.reduce((s, ns) => s + pages(modelRepos(ns) + perNs(mirrorRepos, ns) + perNs(extraRepos, ns)), 0);
  const floor = (calls: number) => Math.round((calls * opts.latencyMs) / opts.maxConcurrent);

  const log = (m: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
  log(`N=${N} (+${extra} by oc-mirror), latency ${opts.latencyMs} ms, emulator cap ${opts.maxConcurrent}, client cap ${opts.clientConcurrency}, mode ${opts.mode}, engine ${tc.pulumiVersion}`);

  const emulator = await startEmulatorProcess({ latencyMs: opts.latencyMs, maxConcurrent: opts.maxConcurrent, workDir: work });
  const sampler = new MemorySampler(new Set([emulator.pid]));
  const phases: PhaseResult[] = [];
  let baseline: Record<string, unknown> | undefined;
  let failure: string | undefined;

  let stateDir = "";
  const stateBytes = (): number | undefined => {
    const root = path.join(stateDir, ".pulumi", "stacks");
    if (!stateDir || !fs.existsSync(root)) return undefined;
    for (const project of fs.readdirSync(root)) {
      const file = fs.readdirSync(path.join(root, project)).find((f) => f.endsWith(".json"));
      if (file) return fs.statSync(path.join(root, project, file)).size;
    }
    return undefined;
  };
  const measure = async <R extends OperationReport>(phase: string, unavoidableCalls: number, run: () => Promise<R>, notes?: string): Promise<R> => {
    await emulator.resetCounters();
    log(`${phase} …`);
    sampler.start();
    const t0 = process.hrtime.bigint();
    let report: R;
    try {
      report = await run();
    } finally {
      const wallMs = Number((process.hrtime.bigint() - t0) / 1_000_000n);
      const mem = sampler.stop();
      const c = await emulator.counters();
      phases.push({
        phase,
        wallMs,
        engine: {},
        calls: sortCounts(c.counts),
        totalCalls: c.total,
        writes: c.writes,
        unavoidableCalls,
        floorMs: floor(unavoidableCalls),
        peakMiB: mem.peakMiB as Record<string, number>,
        processes: mem.processes as Record<string, number>,
        stateBytes: stateBytes(),
        notes,
      });
      log(`${phase}: ${(wallMs / 1000).toFixed(1)} s, ${c.total} calls, ${c.writes} writes`);
    }
    phases[phases.length - 1].engine = report.summary as Record<string, number>;
    return report;
  };

  try {
    await withThrowawayStack(
      {
        program: "lab",
        mode: opts.mode,
        projectName: "qm-bench",
        config: {
          "quay-mirror:mode": "existing",
          "quay-mirror:apiUrl": emulator.url,
          "quay-mirror:registryHostname": HOST,
          "quay-mirror:modelFile": modelFile,
          "quay-mirror:mirrorMappings": JSON.stringify(mappings),
        },
        secrets: { "quay:token": emulator.token },
        env: { QUAY_MAX_CONCURRENCY: String(opts.clientConcurrency), ...opts.env },
      },
      async (stack) => {
        stateDir = stack.stateDir;
        const up = await measure("up (from empty)", objects, () => stack.up());
        const robots = up.outputs.robotCredentials.value as Record<string, { username: string; password: string }>;
        await measure("preview (no changes)", listPages([]), () => stack.preview());
        await measure("up (no changes)", listPages([]), () => stack.up());
        // refresh: at best one read per non-repository object and the repository lists of every namespace.
        const orgsWithRepos = new Set([...model.repositories, ...mirrorRepos].map((r) => r.organization));
        const refreshFloor = objects - model.repositories.length - N + [...orgsWithRepos].reduce((s, ns) => s + pages(modelRepos(ns) + perNs(mirrorRepos, ns)), 0);
        await measure("refresh", refreshFloor, () => stack.refresh());
        log(`oc-mirror pass: ${extra} new repositories via /v2/auth push tokens of the mirror robots`);
        const failures = await ocMirrorPass(emulator.url, robots, newRepos);
        if (failures.length) throw new Error(`oc-mirror pass: ${failures.length} pushes refused, e.g. ${failures.slice(0, 3).join("; ")}`);
        await measure(`up (after oc-mirror pass, +${extra} repos)`, listPages(newRepos), () => stack.up(), "mapping unchanged; the new repositories are only in Quay");
        log("removing the stack (no destroy: the emulator goes away with everything in it) …");
      },
    );
  } catch (e) {
    failure = (e as Error).stack ?? String(e);
    log(`FAILED: ${failure}`);
  } finally {
    await emulator.close();
  }

  if (opts.baseline) {
    const fresh = await startEmulatorProcess({ latencyMs: opts.latencyMs, maxConcurrent: opts.maxConcurrent, workDir: work });
    try {
      await fresh.resetCounters();
      log("baseline: sequential idempotent seeder (the lab's way), from empty …");
      const t0 = process.hrtime.bigint();
      const first = await seedSequentially(fresh.url, fresh.token, model, mirrorRepos);
      const wallMs = Number((process.hrtime.bigint() - t0) / 1_000_000n);
      const c1 = await fresh.counters(true);
      log(`baseline: ${(wallMs / 1000).toFixed(1)} s, ${c1.total} calls, ${c1.writes} writes`);
      const t1 = process.hrtime.bigint();
      const second = await seedSequentially(fresh.url, fresh.token, model, mirrorRepos);
      const wall2 = Number((process.hrtime.bigint() - t1) / 1_000_000n);
      const c2 = await fresh.counters(true);
      log(`baseline again (nothing to do): ${(wall2 / 1000).toFixed(1)} s, ${c2.total} calls, ${c2.writes} writes`);
      baseline = {
        fromEmpty: { wallMs, calls: sortCounts(c1.counts), totalCalls: c1.total, writes: c1.writes, objectsCreated: first.created },
        nothingToDo: { wallMs: wall2, calls: sortCounts(c2.counts), totalCalls: c2.total, writes: c2.writes, objectsCreated: second.created },
      };
    } finally {
      await fresh.close();
    }
  }
  fs.rmSync(work, { recursive: true, force: true });

  const result = {
    when: started.toISOString(),
    label: opts.label || undefined,
    repos: N,
    ocMirrorNewRepos: extra,
    latencyMs: opts.latencyMs,
    emulatorMaxConcurrent: opts.maxConcurrent,
    clientConcurrency: opts.clientConcurrency,
    engine: { pulumi: tc.pulumiVersion, mode: opts.mode, env: opts.env },
    machine: { cpus: os.cpus().length, memGiB: Math.round(os.totalmem() / 2 ** 30), loadAvgAtStart: loadAtStart, loadAvgAtEnd: os.loadavg().map((x) => Math.round(x * 100) / 100) },
    objectsCreatedByUp: objects,
    phases,
    baseline,
    failure,
  };
  fs.mkdirSync(opts.out, { recursive: true });
  const file = path.join(opts.out, `bench-n${N}-${started.toISOString().replace(/[:.]/g, "").slice(0, 15)}Z.json`);
  fs.writeFileSync(file, JSON.stringify(result, null, 2) + "\n");
  printTable(result);
  process.stdout.write(`\nJSON: ${path.relative(repoRoot, file)}\n`);
  if (failure) process.exitCode = 1;
}

/**
 * Like withEngineStack, but without its final `destroy` (at N = 1,000 a destroy takes minutes and measures
 * nothing here): the stack is removed with --force and its directories deleted; the emulator is discarded.
 */
async function withThrowawayStack(opts: EngineStackOptions, fn: (stack: EngineStack) => Promise<void>): Promise<void> {
  const stack = await EngineStack.create(opts);
  try {
    await fn(stack);
  } finally {
    await stack.stack.workspace.removeStack(stack.stack.name, { force: true }).catch(() => undefined);
    fs.rmSync(stack.workDir, { recursive: true, force: true });
    fs.rmSync(stack.stateDir, { recursive: true, force: true });
  }
}

function printTable(r: {
  repos: number;
  latencyMs: number;
  emulatorMaxConcurrent: number;
  phases: PhaseResult[];
  baseline?: Record<string, unknown>;
  objectsCreatedByUp: number;
}): void {
  const rows: string[][] = [["phase", "wall s", "calls", "writes", "floor s", "×floor", "engine MiB", "provider MiB", "program MiB", "state MB", "engine ops"]];
  for (const p of r.phases) {
    rows.push([
      p.phase,
      (p.wallMs / 1000).toFixed(1),
      String(p.totalCalls),
      String(p.writes),
      (p.floorMs / 1000).toFixed(1),
      p.floorMs > 0 ? (p.wallMs / p.floorMs).toFixed(1) : "-",
      String(p.peakMiB.engine ?? "-"),
      String(p.peakMiB["dynamic-provider"] ?? "-"),
      String(p.peakMiB.program ?? p.peakMiB["bench-process"] ?? "-"),
      p.stateBytes ? (p.stateBytes / 1e6).toFixed(1) : "-",
      Object.entries(p.engine).map(([k, v]) => `${k} ${v}`).join(", "),
    ]);
  }
  const b = r.baseline as { fromEmpty: { wallMs: number; totalCalls: number; writes: number }; nothingToDo: { wallMs: number; totalCalls: number; writes: number } } | undefined;
  if (b) {
    rows.push(["baseline seeder (from empty)", (b.fromEmpty.wallMs / 1000).toFixed(1), String(b.fromEmpty.totalCalls), String(b.fromEmpty.writes), "", "", "", "", "", "", ""]);
    rows.push(["baseline seeder (again)", (b.nothingToDo.wallMs / 1000).toFixed(1), String(b.nothingToDo.totalCalls), String(b.nothingToDo.writes), "", "", "", "", "", "", ""]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  process.stdout.write(`\nN = ${r.repos} mirror repositories (+ the lab model), latency ${r.latencyMs} ms, cap ${r.emulatorMaxConcurrent}; objects created by up: ${r.objectsCreatedByUp}\n`);
  rows.forEach((row, i) => {
    process.stdout.write(row.map((c, j) => (j === 0 || j === row.length - 1 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join("  ") + "\n");
    if (i === 0) process.stdout.write(widths.map((w) => "-".repeat(w)).join("  ") + "\n");
  });
  const up = r.phases[0];
  if (up && b) {
    process.stdout.write(
      `\nup from empty: ${(up.totalCalls / r.objectsCreatedByUp).toFixed(2)} calls per object created; ${(up.wallMs / up.floorMs).toFixed(1)}× the floor; ` +
        `baseline/up = ${(b.fromEmpty.wallMs / up.wallMs).toFixed(1)}×\n`,
    );
  }
  for (const p of r.phases) {
    process.stdout.write(`\n${p.phase}: calls by route\n`);
    for (const [k, v] of Object.entries(p.calls)) process.stdout.write(`  ${String(v).padStart(6)}  ${k}\n`);
  }
}

main().catch((e) => {
  process.stderr.write(`bench: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
