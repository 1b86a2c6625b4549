// Replays the transcript of a real Quay (tests/fixtures/quay-conformance/golden-public.jsonl) against a
// fresh emulator and compares every answer after the normalisation described in the fixture's README.
import * as fs from "node:fs";
import * as path from "node:path";
import { RECORDED_SERVER_CONFIG, startQuayEmulator, QuayEmulator } from "./emulator";

interface Line {
  id: string;
  method: string;
  path: string;
  auth: "token" | "none";
  req: unknown;
  capture: Record<string, string> | null;
  cmp: "full" | "status" | "unordered";
  status: number;
  body: unknown;
}

const FIXTURE = path.join(__dirname, "fixtures", "quay-conformance", "golden-public.jsonl");
const PREFIX = "zqx";
const SECRET_KEYS = new Set(["token", "password", "client_secret", "client_id", "access_token", "token_code"]);
const DATE_KEYS = new Set(["created", "last_accessed", "expires_at", "last_modified", "sync_start_date"]);
const UUID_RE = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

function substitute(v: unknown, vars: Record<string, string>): unknown {
  if (typeof v === "string") return v.replace(/\{([A-Z]+)\}/g, (m, k: string) => (k === "P" ? PREFIX : vars[k] ?? m));
  if (Array.isArray(v)) return v.map((x) => substitute(x, vars));
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [substitute(k, vars) as string, substitute(x, vars)]));
  return v;
}

function normString(s: string): string {
  let out = s.split(PREFIX).join("{P}");
  const blank = out.indexOf("\n\n");
  if (blank >= 0) out = out.slice(0, blank);
  out = out.replace(UUID_RE, "<UUID>");
  out = out.replace(/https?:\/\/[^/\s"]+\/api\/v1\/error\//g, "<BASE>/api/v1/error/");
  return out;
}

export function normalize(v: unknown, key?: string, parentKey?: string): unknown {
  if (key !== undefined) {
    if (SECRET_KEYS.has(key) && v !== null && v !== undefined) return "<SECRET>";
    if (key === "encrypted_password") return "<ENC>";
    if (DATE_KEYS.has(key) && v !== null) return "<DATE>";
    if (key === "next_page") return "<PAGE>";
    if (key === "status_token") return "<STATUS_TOKEN>";
    if (parentKey === "avatar" && key === "hash") return "<HASH>";
    if (parentKey === "avatar" && key === "color") return "<COLOR>";
  }
  if (typeof v === "string") return normString(v);
  if (Array.isArray(v)) return v.map((x) => normalize(x, undefined, key));
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[normString(k)] = normalize((v as Record<string, unknown>)[k], k, key);
    return out;
  }
  return v;
}

function canonical(v: unknown, unordered: boolean): unknown {
  if (Array.isArray(v)) {
    const items = v.map((x) => canonical(x, unordered));
    return unordered ? items.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : JSON.stringify(a) > JSON.stringify(b) ? 1 : 0)) : items;
  }
  if (v && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k], unordered)]));
  return v;
}

async function call(base: string, token: string, line: Line, vars: Record<string, string>) {
  const p = substitute(line.path, vars) as string;
  const headers: Record<string, string> = {};
  if (line.auth === "token") headers.Authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (line.req !== null && line.req !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(substitute(line.req, vars));
  }
  const res = await fetch(base + p, { method: line.method, headers, body, redirect: "manual" });
  const text = await res.text();
  let parsed: unknown = "";
  if (text.length) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  return { status: res.status, body: parsed };
}

describe("Quay conformance transcript", () => {
  let emu: QuayEmulator;
  let token: string;
  const lines: Line[] = fs.readFileSync(FIXTURE, "utf8").split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));

  beforeAll(async () => {
    emu = await startQuayEmulator({
      // The recording server's configuration (quay-conformance/README.md).
      config: { ...RECORDED_SERVER_CONFIG, SERVER_HOSTNAME: "quay.example.test" },
    });
    token = (await emu.initialize("quayadmin", "password-123")).token;
  });
  afterAll(async () => {
    await emu.close();
  });

  it(`matches all ${lines.length} recorded calls, in order`, async () => {
    const vars: Record<string, string> = {};
    const mismatches: string[] = [];
    let matched = 0;
    for (const line of lines) {
      const actual = await call(emu.url, token, line, vars);
      if (line.capture) {
        for (const [k, field] of Object.entries(line.capture)) {
          const v = (actual.body as Record<string, unknown> | null)?.[field];
          if (typeof v === "string") vars[k] = v;
        }
      }
      let same = actual.status === line.status;
      if (same && line.cmp !== "status") {
        const unordered = line.cmp === "unordered";
        const exp = canonical(normalize(line.body), unordered);
        const act = canonical(normalize(actual.body), unordered);
        same = JSON.stringify(exp) === JSON.stringify(act);
      }
      if (same) matched++;
      else {
        mismatches.push(
          `${line.id}: ${line.method} ${line.path}\n  expected ${line.status} ${JSON.stringify(normalize(line.body))}\n  actual   ${actual.status} ${JSON.stringify(normalize(actual.body))}`,
        );
      }
    }
    if (mismatches.length) console.log(`conformance: ${matched}/${lines.length} matched\n` + mismatches.join("\n"));
    else console.log(`conformance: ${matched}/${lines.length} matched`);
    expect(mismatches).toEqual([]);
  });
});
