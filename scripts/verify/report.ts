// The verify command's report: one line per check (ok / FAIL / skip, what, why), exit status 0 only when no
// check failed. Every line passes through the redactor, which replaces any secret the command holds (tokens,
// passwords) by "[secret]": a message from Quay or the host never carries one out.

export type Verdict = "ok" | "FAIL" | "skip";

export interface CheckLine {
  verdict: Verdict;
  /** What was checked, e.g. "model: robot platform+ci_push present". */
  what: string;
  /** Why it failed or was skipped (or a detail of a pass). */
  why?: string;
}

export const ok = (what: string, why?: string): CheckLine => ({ verdict: "ok", what, why });
export const fail = (what: string, why: string): CheckLine => ({ verdict: "FAIL", what, why });
export const skip = (what: string, why: string): CheckLine => ({ verdict: "skip", what, why });

/** Replaces every known secret in a text (longest first, so a secret containing another is replaced whole). */
export class Redactor {
  private readonly secrets = new Set<string>();

  add(...values: (string | undefined | null)[]): void {
    for (const v of values) {
      // Very short values would blank out ordinary words; no secret the stack holds is that short.
      if (typeof v === "string" && v.length >= 6) {
        this.secrets.add(v);
        // Credentials also travel base64-encoded (Basic auth, dockerconfigjson).
        this.secrets.add(Buffer.from(v, "utf8").toString("base64").replace(/=+$/, ""));
      }
    }
  }

  redact(text: string): string {
    let out = text;
    for (const s of [...this.secrets].sort((a, b) => b.length - a.length)) out = out.split(s).join("[secret]");
    return out;
  }
}

export function formatLine(line: CheckLine, redactor?: Redactor): string {
  const text = `${line.verdict.padEnd(4)} ${line.what}${line.why ? ` — ${line.why}` : ""}`;
  return redactor ? redactor.redact(text) : text;
}

/** 0 when every check passed or was skipped, 1 when one failed. */
export function exitStatus(lines: CheckLine[]): number {
  return lines.some((l) => l.verdict === "FAIL") ? 1 : 0;
}

/** "3 ok, 1 FAIL, 2 skip". */
export function summary(lines: CheckLine[]): string {
  const count = (v: Verdict) => lines.filter((l) => l.verdict === v).length;
  return `${count("ok")} ok, ${count("FAIL")} FAIL, ${count("skip")} skip`;
}

/** A short, single-line message of an error (no stack). */
export function errorText(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.split("\n")[0]!.slice(0, 300);
}
