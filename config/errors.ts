// One error type for bad configuration: every problem at once, each with the file, the JSON path and the fix.
import type { z } from "zod";

export interface ConfigIssue {
  /** JSON path inside the file, e.g. ["teams", 0, "members", 1]. */
  path: (string | number)[];
  message: string;
  /** What to change. */
  fix?: string;
}

/** `$.teams[0].members[1]`: the JSON path every configuration error names (ConfigError, QuayHostConfigError). */
export function jsonPath(path: readonly PropertyKey[]): string {
  return (
    "$" +
    path
      .map((p) => (typeof p === "number" ? `[${p}]` : typeof p === "string" && /^[A-Za-z_$][\w$]*$/.test(p) ? `.${p}` : `[${JSON.stringify(String(p))}]`))
      .join("")
  );
}

/** Where in the file: `line 3 column 5` for text positions (a path of one "line …" element), else the JSON path. */
export function location(path: (string | number)[]): string {
  return path.length === 1 && typeof path[0] === "string" && /^line \d+/.test(path[0]) ? path[0] : jsonPath(path);
}

/**
 * Bad configuration. It is also a Pulumi `RunError` (the SDK recognises one by this marker, also across copies
 * of the SDK): when it escapes the program, the engine prints only the message (file, path, fix), without a
 * stack trace or a dump of the object. tests/config/errors.test.ts checks that the SDK still sees it so.
 */
export class ConfigError extends Error {
  readonly file: string;
  readonly issues: ConfigIssue[];
  /** @pulumi/pulumi's RunError marker (errors.js: RunError.isInstance). */
  readonly __pulumiRunError = true;

  constructor(file: string, issues: ConfigIssue[]) {
    const lines = issues.map((i) => `  ${file} ${location(i.path)}: ${i.message}${i.fix ? ` — fix: ${i.fix}` : ""}`);
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
