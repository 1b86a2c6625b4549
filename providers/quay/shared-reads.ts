// Shared reads: one `pulumi up --refresh` reads Quay once, not twice.
//
// The CLI runs `up` as two engine deployments, its preview and then the update, and the engine gives each
// deployment its own plugin host (pkg/engine/deployment.go: "The engine owns the resulting host and closes
// it"), so each starts its own dynamic-provider process: with `--refresh` both refresh every resource, and
// a per-process cache (listing.ts) cannot serve the second. (The Automation API, and so the gated workflow,
// passes --skip-preview: one deployment, one refresh.) This module lets the second deployment of the SAME
// CLI process reuse the GET answers of the first:
//
// - Scope: the `pulumi` CLI process that started this provider (found among the provider's ancestors by its
//   name, identified by pid AND start time, so a reused pid is another scope). No such ancestor (tests that
//   call providers in-process, another platform than Linux): nothing is shared.
// - Never stale after a write: any POST/PUT/DELETE of any provider process in the scope ends sharing for
//   the rest of the scope (a marker file, written before the request is sent), and the entries are deleted.
//   A preview writes nothing, so the update's refresh sees exactly what its preview showed; its first write
//   switches every later read back to Quay.
// - Bounded: an answer is served for at most QUAY_SHARED_READS_MAX_AGE_SECONDS (default 300 s: a preview
//   and its update with `--yes`; an operator who waits longer at the prompt gets fresh reads). 0 disables.
// - Safe at rest: entries are encrypted (AES-256-GCM) with a key derived from the API token of the request
//   and the scope, named by an HMAC of the URL under that key, in a 0700 directory of this user; no token,
//   URL or body is stored in clear. Only final answers are kept (2xx, 400, 403, 404; never a token rejection,
//   a 429 or a 5xx).
//
// Like client.ts, this module keeps its process state on globalThis, so that every provider module of one
// process shares it.

/** The answer the client would have read from Quay. */
export interface SharedAnswer {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

interface Scope {
  id: string;
  dir: string;
}

interface ProcessState {
  scope?: Scope | null;
  written: boolean;
}

function state(): ProcessState {
  const key = Symbol.for("quay-mirror.shared-reads");
  const g = globalThis as unknown as Record<symbol, ProcessState | undefined>;
  return g[key] ?? (g[key] = { written: false });
}

/** How long an answer may be served, in ms (0: sharing off). */
export function sharedReadsMaxAgeMs(): number {
  const raw = process.env.QUAY_SHARED_READS_MAX_AGE_SECONDS;
  if (raw !== undefined && /^\d+(\.\d+)?$/.test(raw.trim())) return Number(raw.trim()) * 1000;
  return 300_000;
}

/** pid, comm, ppid and start time of a process, from /proc (Linux). */
function procStat(pid: number): { comm: string; ppid: number; start: string } | undefined {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const fs = require("fs") as typeof import("fs");
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const open = text.indexOf("(");
    const close = text.lastIndexOf(")");
    const fields = text.slice(close + 2).split(" ");
    // After the comm: state(0) ppid(1) ... starttime is field 22 of the whole line, index 19 here.
    return { comm: text.slice(open + 1, close), ppid: Number(fields[1]), start: fields[19] };
  } catch {
    return undefined;
  }
}

/** The `pulumi` CLI process among this process's ancestors (a few levels: node ← sh ← pulumi), as pid:start. */
export function cliScopeId(startPid: number = process.ppid): string | undefined {
  let pid = startPid;
  for (let depth = 0; depth < 6 && pid > 1; depth++) {
    const st = procStat(pid);
    if (!st) return undefined;
    if (st.comm === "pulumi") return `${pid}:${st.start}`;
    pid = st.ppid;
  }
  return undefined;
}

/** This user's private base directory, or undefined when it is not safely ours. */
function baseDir(): string | undefined {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const fs = require("fs") as typeof import("fs");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const os = require("os") as typeof import("os");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const path = require("path") as typeof import("path");
  const uid = typeof process.getuid === "function" ? process.getuid() : -1;
  const dir = path.join(process.env.QUAY_SHARED_READS_DIR || os.tmpdir(), `quay-mirror-shared-reads-${uid}`);
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") return undefined;
  }
  try {
    const st = fs.lstatSync(dir);
    if (!st.isDirectory() || st.isSymbolicLink() || st.uid !== uid || (st.mode & 0o077) !== 0) return undefined;
  } catch {
    return undefined;
  }
  return dir;
}

/** Scope directories of CLI processes that ended long ago are removed (best effort). */
function sweep(base: string, keep: string): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const fs = require("fs") as typeof import("fs");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const path = require("path") as typeof import("path");
  try {
    for (const name of fs.readdirSync(base)) {
      if (name === keep) continue;
      const dir = path.join(base, name);
      try {
        if (Date.now() - fs.statSync(dir).mtimeMs > 3_600_000) fs.rmSync(dir, { recursive: true, force: true });
      } catch {
        // another process swept it
      }
    }
  } catch {
    // nothing to sweep
  }
}

function scope(): Scope | undefined {
  const s = state();
  if (s.scope !== undefined) return s.scope ?? undefined;
  s.scope = null;
  if (sharedReadsMaxAgeMs() <= 0) return undefined;
  const id = cliScopeId();
  const sc = id ? scopeFor(id) : undefined;
  if (sc) s.scope = sc;
  return sc;
}

function scopeFor(id: string): Scope | undefined {
  const base = baseDir();
  if (!base) return undefined;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const crypto = require("crypto") as typeof import("crypto");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const fs = require("fs") as typeof import("fs");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const path = require("path") as typeof import("path");
  const name = crypto.createHash("sha256").update(`quay-mirror shared reads ${id}`).digest("hex").slice(0, 32);
  const dir = path.join(base, name);
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") return undefined;
  }
  sweep(base, name);
  return { id, dir };
}

function written(sc: Scope): boolean {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const fs = require("fs") as typeof import("fs");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const path = require("path") as typeof import("path");
  if (state().written) return true;
  if (fs.existsSync(path.join(sc.dir, "written"))) {
    state().written = true;
    return true;
  }
  return false;
}

function keys(sc: Scope, token: string, url: string): { key: Buffer; file: string } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const crypto = require("crypto") as typeof import("crypto");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const path = require("path") as typeof import("path");
  const key = Buffer.from(crypto.hkdfSync("sha256", Buffer.from(token), Buffer.from(sc.id), Buffer.from("quay-mirror shared reads v1"), 32));
  const file = path.join(sc.dir, crypto.createHmac("sha256", key).update(`GET ${url}`).digest("hex"));
  return { key, file };
}

/** The answer a process of this CLI run already read for GET `url` with `token`, when sharing is on and no write happened. */
export function sharedRead(url: string, token: string | undefined): SharedAnswer | undefined {
  if (!token || sharedReadsMaxAgeMs() <= 0) return undefined;
  const sc = scope();
  if (!sc || written(sc)) return undefined;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const crypto = require("crypto") as typeof import("crypto");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const fs = require("fs") as typeof import("fs");
  const { key, file } = keys(sc, token, url);
  try {
    const raw = fs.readFileSync(file);
    const iv = raw.subarray(0, 12);
    const tag = raw.subarray(12, 28);
    const decipher = crypto.createDecipheriv("aes-256-gcm", key, iv);
    decipher.setAuthTag(tag);
    const entry = JSON.parse(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8")) as SharedAnswer & { at: number; url: string };
    if (entry.url !== url || Date.now() - entry.at > sharedReadsMaxAgeMs() || Date.now() < entry.at) return undefined;
    return { status: entry.status, body: entry.body, headers: entry.headers };
  } catch {
    return undefined;
  }
}

/** Keeps a final answer of GET `url` for the other deployment of this CLI run. */
export function shareRead(url: string, token: string | undefined, answer: SharedAnswer): void {
  if (!token) return;
  const sc = scope();
  if (!sc || written(sc)) return;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const crypto = require("crypto") as typeof import("crypto");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const fs = require("fs") as typeof import("fs");
  const { key, file } = keys(sc, token, url);
  try {
    const iv = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv("aes-256-gcm", key, iv);
    const plain = Buffer.from(JSON.stringify({ ...answer, at: Date.now(), url }), "utf8");
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, Buffer.concat([iv, cipher.getAuthTag(), body]), { mode: 0o600 });
    fs.renameSync(tmp, file);
    // A write that raced this store: drop what was just stored.
    if (written(sc)) fs.rmSync(file, { force: true });
  } catch {
    // best effort: the next deployment reads Quay
  }
}

/** A write is about to be sent: no answer read before it may be served again in this CLI run. */
export function noteWrite(): void {
  const s = state();
  if (s.written) return;
  s.written = true;
  const sc = scope();
  if (!sc) return;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const fs = require("fs") as typeof import("fs");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const path = require("path") as typeof import("path");
  try {
    fs.writeFileSync(path.join(sc.dir, "written"), "", { mode: 0o600 });
    for (const name of fs.readdirSync(sc.dir)) if (name !== "written") fs.rmSync(path.join(sc.dir, name), { force: true });
  } catch {
    // If the marker cannot be written, no other process can be told: stop sharing by removing the scope.
    try {
      fs.rmSync(sc.dir, { recursive: true, force: true });
    } catch {
      // nothing more to do
    }
  }
}

/**
 * Tests: forget this process's scope and write marker (what a new provider process starts with); with
 * `scopeId`, act as a provider of a CLI run with that id (in-process tests have no `pulumi` ancestor).
 */
export function resetSharedReads(scopeId?: string): void {
  const s = state();
  s.scope = undefined;
  s.written = false;
  if (scopeId !== undefined) {
    s.scope = null;
    const sc = scopeFor(scopeId);
    if (sc) s.scope = sc;
  }
}
