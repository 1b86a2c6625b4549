// Bench support: the emulator as a child process (so its CPU and memory are not the program's), its
// admin counters, a /proc sampler for peak memory per process role, and the oc-mirror mapping generator.
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import fetch from "node-fetch";
import { labQuayConfig } from "../tests/support/quay";
import { repoRoot } from "../tests/support/engine";

export const HOST = "quay.v7.comptech-lab.com";
export const MIRROR_NAMESPACES = ["openshift-release", "openshift-operators"] as const;

export interface EmulatorProcess {
  url: string;
  pid: number;
  token: string;
  counters(reset?: boolean): Promise<{ counts: Record<string, number>; total: number; writes: number }>;
  resetCounters(): Promise<void>;
  close(): Promise<void>;
}

/** Starts bin/tests/emulator/cli.js with the lab's Quay config, initializes `quayadmin`, returns the token. */
export async function startEmulatorProcess(opts: { latencyMs: number; maxConcurrent: number; workDir: string }): Promise<EmulatorProcess> {
  const configFile = path.join(opts.workDir, "emulator-config.json");
  fs.writeFileSync(configFile, JSON.stringify(labQuayConfig()));
  const cli = path.join(repoRoot, "bin", "tests", "emulator", "cli.js");
  const child: ChildProcess = spawn(
    process.execPath,
    [cli, "--config", configFile, "--latency-ms", String(opts.latencyMs), "--max-concurrent", String(opts.maxConcurrent)],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let buf = "";
    child.stdout!.on("data", (d: Buffer) => {
      buf += d.toString("utf8");
      const nl = buf.indexOf("\n");
      if (nl >= 0) resolve(buf.slice(0, nl).trim());
    });
    child.once("exit", (code) => reject(new Error(`emulator exited with ${code} before printing its URL`)));
  });
  const init = await fetch(`${url}/api/v1/user/initialize`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: "quayadmin", password: "quayadmin-password-1", email: "quayadmin@example.com", access_token: true }),
  });
  const body = (await init.json()) as { access_token?: string };
  if (!body.access_token) throw new Error(`emulator initialize failed: ${init.status} ${JSON.stringify(body)}`);
  const counters = async (reset = false) => {
    const res = await fetch(`${url}/__emulator/counters${reset ? "?reset=1" : ""}`);
    return (await res.json()) as { counts: Record<string, number>; total: number; writes: number };
  };
  return {
    url,
    pid: child.pid!,
    token: body.access_token,
    counters,
    resetCounters: async () => {
      await fetch(`${url}/__emulator/counters`, { method: "DELETE" });
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

// ---------------------------------------------------------------------------------------------------
// Memory: VmHWM / VmRSS of the processes under this one, by role.

export type Role = "engine" | "dynamic-provider" | "program" | "language-host" | "other";

interface ProcSample {
  role: Role;
  maxRssKb: number;
  hwmKb: number;
}

function readStatus(pid: number): { ppid: number; rssKb: number; hwmKb: number; name: string } | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const field = (k: string) => {
      const m = new RegExp(`^${k}:\\s+(\\S+)`, "m").exec(text);
      return m ? m[1] : "";
    };
    return { ppid: Number(field("PPid")), rssKb: Number(field("VmRSS")) || 0, hwmKb: Number(field("VmHWM")) || 0, name: field("Name") };
  } catch {
    return undefined;
  }
}

function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
  } catch {
    return "";
  }
}

function classify(pid: number, name: string): Role {
  const cmd = cmdline(pid);
  if (cmd.includes("dynamic-provider")) return "dynamic-provider";
  if (cmd.includes("@pulumi/pulumi/cmd/run")) return "program";
  if (name === "pulumi-language-" || cmd.includes("pulumi-language-nodejs")) return "language-host";
  if (name === "pulumi" || /(^|\/)pulumi(\s|$)/.test(cmd)) return "engine";
  return "other";
}

/** Samples the process tree under this process every `intervalMs`; `self` is this process (the inline program). */
export class MemorySampler {
  private timer?: NodeJS.Timeout;
  private procs = new Map<number, ProcSample>();
  private selfMaxKb = 0;
  constructor(private readonly exclude: Set<number>, private readonly intervalMs = 200) {}

  start(): void {
    this.procs.clear();
    this.selfMaxKb = 0;
    // Reset this process's VmHWM so it is per phase (5 = reset peak RSS; allowed for one's own process).
    try {
      fs.writeFileSync("/proc/self/clear_refs", "5");
    } catch {
      /* older kernels: the sampled maximum is used instead */
    }
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
  }

  private sample(): void {
    const self = readStatus(process.pid);
    if (self) this.selfMaxKb = Math.max(this.selfMaxKb, self.rssKb, self.hwmKb);
    const children = new Map<number, number[]>();
    const info = new Map<number, { rssKb: number; hwmKb: number; name: string }>();
    for (const entry of fs.readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      const pid = Number(entry);
      const st = readStatus(pid);
      if (!st) continue;
      info.set(pid, st);
      (children.get(st.ppid) ?? children.set(st.ppid, []).get(st.ppid)!).push(pid);
    }
    const stack = [...(children.get(process.pid) ?? [])];
    while (stack.length) {
      const pid = stack.pop()!;
      stack.push(...(children.get(pid) ?? []));
      if (this.exclude.has(pid)) continue;
      const st = info.get(pid)!;
      let rec = this.procs.get(pid);
      if (!rec) {
        rec = { role: classify(pid, st.name), maxRssKb: 0, hwmKb: 0 };
        this.procs.set(pid, rec);
      }
      rec.maxRssKb = Math.max(rec.maxRssKb, st.rssKb);
      rec.hwmKb = Math.max(rec.hwmKb, st.hwmKb);
    }
  }

  /** Peak MiB per role (the largest process of that role) and this process's peak. */
  stop(): { peakMiB: Partial<Record<Role | "bench-process", number>>; processes: Partial<Record<Role, number>> } {
    if (this.timer) clearInterval(this.timer);
    this.sample();
    const peak: Partial<Record<Role | "bench-process", number>> = {};
    const count: Partial<Record<Role, number>> = {};
    for (const rec of this.procs.values()) {
      const mib = Math.max(rec.maxRssKb, rec.hwmKb) / 1024;
      peak[rec.role] = Math.max(peak[rec.role] ?? 0, Math.round(mib * 10) / 10);
      count[rec.role] = (count[rec.role] ?? 0) + 1;
    }
    const self = readStatus(process.pid);
    peak["bench-process"] = Math.round((Math.max(this.selfMaxKb, self?.hwmKb ?? 0) / 1024) * 10) / 10;
    return { peakMiB: peak, processes: count };
  }
}

// ---------------------------------------------------------------------------------------------------
// oc-mirror mappings.

/**
 * The i-th destination repository: about 1 in 10 in openshift-release (release payload components), the
 * rest in openshift-operators (operator bundles and operands, two to four path segments deep).
 */
export function destination(i: number): { organization: string; name: string } {
  if (i % 10 === 0) return { organization: "openshift-release", name: `openshift/release-art/component-${String(i).padStart(5, "0")}` };
  const catalog = ["redhat", "certified", "community", "marketplace"][i % 4];
  const op = `op${String(Math.floor(i / 3)).padStart(5, "0")}`;
  const leaf = ["bundle", "operator", "rhel9/operand"][i % 3];
  return { organization: "openshift-operators", name: `${catalog}/${op}/${leaf}` };
}

/** Writes one oc-mirror v2 mapping file per mirror namespace for destinations [0, count); returns the files. */
export function writeMappings(dir: string, count: number): { file: string; organization: string }[] {
  const lines: Record<string, string[]> = {};
  for (const ns of MIRROR_NAMESPACES) lines[ns] = ["# oc-mirror --v2 dry-run mapping (generated by bench/)"];
  for (let i = 0; i < count; i++) {
    const d = destination(i);
    const digest = (i.toString(16) + "a".repeat(64)).slice(0, 64);
    lines[d.organization].push(`docker://registry.redhat.io/${d.name}@sha256:${digest}=docker://${HOST}/${d.organization}/${d.name}:v4.20.${i}`);
    lines[d.organization].push(`docker://registry.redhat.io/${d.name}@sha256:${digest}=docker://${HOST}/${d.organization}/${d.name}:sha256-${digest.slice(0, 12)}`);
  }
  return MIRROR_NAMESPACES.map((ns) => {
    const file = path.join(dir, `mapping-${ns}.txt`);
    fs.writeFileSync(file, lines[ns].join("\n") + "\n");
    return { file, organization: ns };
  });
}

/**
 * An oc-mirror pass: the mirror robot asks /v2/auth for push on each destination, which is how oc-mirror's
 * first push creates a repository in Quay (robot in the namespace's creator team). `inFlight` at a time.
 */
export async function ocMirrorPass(url: string, robots: Record<string, { username: string; password: string }>, repos: { organization: string; name: string }[], inFlight = 8): Promise<string[]> {
  const failures: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < repos.length) {
      const r = repos[next++];
      const robot = robots[`${r.organization}+ocp_mirror`];
      const full = `${r.organization}/${r.name}`;
      const scope = `repository:${full}:push,pull`;
      const res = await fetch(`${url}/v2/auth?service=${encodeURIComponent(HOST)}&scope=${encodeURIComponent(scope)}`, {
        headers: { Authorization: `Basic ${Buffer.from(`${robot.username}:${robot.password}`).toString("base64")}` },
      });
      const body = (await res.json()) as { token?: string };
      const payload = body.token ? (JSON.parse(Buffer.from(body.token.split(".")[1], "base64url").toString("utf8")) as { access?: { name: string; actions: string[] }[] }) : {};
      const granted = (payload.access ?? []).find((a) => a.name === full)?.actions ?? [];
      if (!granted.includes("push")) failures.push(`${full}: ${res.status} ${JSON.stringify(granted)}`);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return failures;
}
