// One error type for bad configuration: every problem at once, each with the file, the JSON path and the fix.
import type { z } from "zod";

export interface ConfigIssue {
  /** JSON path inside the file, e.g. ["teams", 0, "members", 1]. */
  path: (string | number)[];
  message: string;
  /** What to change. */
  fix?: string;
}

/** `$.teams[0].members[1]` */
export function jsonPath(path: (string | number)[]): string {
  return "$" + path.map((p) => (typeof p === "number" ? `[${p}]` : /^[A-Za-z_$][\w$]*$/.test(p) ? `.${p}` : `[${JSON.stringify(p)}]`)).join("");
}

export class ConfigError extends Error {
  readonly file: string;
  readonly issues: ConfigIssue[];

  constructor(file: string, issues: ConfigIssue[]) {
    const lines = issues.map((i) => `  ${file} ${jsonPath(i.path)}: ${i.message}${i.fix ? ` — fix: ${i.fix}` : ""}`);
    super(`${issues.length} problem${issues.length === 1 ? "" : "s"} in ${file}:\n${lines.join("\n")}`);
    this.name = "ConfigError";
    this.file = file;
    this.issues = issues;
  }
}

/** zod issues as ConfigIssues, with a fix hint for the common kinds. */
export function issuesFromZod(error: z.ZodError): ConfigIssue[] {
  return error.issues.map((issue) => {
    const path = issue.path.map((p) => (typeof p === "symbol" ? String(p) : p)) as (string | number)[];
    let fix: string | undefined;
    switch (issue.code) {
      case "unrecognized_keys":
        fix = `remove ${issue.keys.map((k) => `"${k}"`).join(", ")} (or check the spelling)`;
        break;
      case "invalid_type":
        fix = `give a value of the expected type`;
        break;
      case "invalid_value":
        fix = `use one of: ${(issue.values ?? []).map((v) => JSON.stringify(v)).join(", ")}`;
        break;
      default:
        fix = undefined;
    }
    return { path, message: issue.message, fix };
  });
}
