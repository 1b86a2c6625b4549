// Reading the files people write by hand (stack settings, the model, mappings, pull secrets): the encoding is
// checked before anything is parsed, and a syntax error names the file, the line and the column.
// No @pulumi/pulumi here: scripts/lab-stack.ts uses it before the engine runs.
import * as fs from "fs";
import * as YAML from "yaml";
import { ConfigError, ConfigIssue } from "./errors";

const SAVE_AS_UTF8 = "save the file as UTF-8 without a byte-order mark (PowerShell: `Set-Content -Encoding utf8NoBOM` or `Out-File -Encoding utf8NoBOM`, PowerShell 5's `>` writes UTF-16; elsewhere: `iconv -f UTF-16 -t UTF-8 in > out`, `sed -i '1s/^\\xEF\\xBB\\xBF//' file`)";

/** Why these bytes are not plain UTF-8 text, or undefined when they are. */
export function encodingProblem(bytes: Buffer): string | undefined {
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) return "is UTF-16 (little-endian, with a byte-order mark), not UTF-8";
  if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff) return "is UTF-16 (big-endian, with a byte-order mark), not UTF-8";
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return "starts with a UTF-8 byte-order mark (BOM)";
  // UTF-16 without a mark: every other byte of ASCII text is NUL.
  const sample = bytes.subarray(0, 512);
  let nul = 0;
  for (const b of sample) if (b === 0) nul++;
  if (sample.length >= 4 && nul * 4 >= sample.length) return "is UTF-16 (it is full of NUL bytes), not UTF-8";
  if (nul > 0) return "holds NUL bytes: it is binary or UTF-16, not UTF-8 text";
  return undefined;
}

/** The text of a UTF-8 file; a ConfigError naming the file when it cannot be read or is UTF-16 / has a BOM. */
export function readTextFile(file: string, what: string, readFix = "check the path"): string {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const message = code === "ENOENT" ? `the ${what} does not exist` : code === "EISDIR" ? `the ${what} is a directory, not a file` : `cannot read the ${what}: ${code ?? (e as Error).message}`;
    throw new ConfigError(file, [{ path: [], message, fix: readFix }]);
  }
  return decodeText(bytes, file, what);
}

/** Bytes → text, refusing UTF-16 and a byte-order mark with the fix. */
export function decodeText(bytes: Buffer, file: string, what: string): string {
  const problem = encodingProblem(bytes);
  if (problem) throw new ConfigError(file, [{ path: ["line 1"], message: `the ${what} ${problem}`, fix: SAVE_AS_UTF8 }]);
  return bytes.toString("utf8");
}

/** Line and column (1-based) of a character offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, offset));
  const line = before.split("\n").length;
  return { line, column: offset - before.lastIndexOf("\n") };
}

/**
 * The offset of the first JSON syntax error in `text` (a strict scanner: V8's messages do not always give a
 * position), or -1 when the text is valid JSON.
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text[i])) i++;
  };
  const fail = (): never => {
    throw i;
  };
  const string = () => {
    if (text[i] !== '"') fail();
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text.charCodeAt(i) < 0x20) fail();
      if (text[i] === "\\") {
        i++;
        if (text[i] === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail();
          i += 4;
        } else if (!'"\\/bfnrt'.includes(text[i] ?? "x")) fail();
      }
      i++;
    }
    if (i >= text.length) fail();
    i++;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      ws();
      if (text[i] === "}") {
        i++;
        return;
      }
      for (;;) {
        ws();
        string();
        ws();
        if (text[i] !== ":") fail();
        i++;
        value();
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") {
          i++;
          return;
        }
        fail();
      }
    } else if (c === "[") {
      i++;
      ws();
      if (text[i] === "]") {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") {
          i++;
          return;
        }
        fail();
      }
    } else if (c === '"') {
      string();
    } else {
      const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 400));
      if (!m) fail();
      i += m![0].length;
    }
  };
  try {
    value();
    ws();
    return i < text.length ? i : -1;
  } catch (at) {
    if (typeof at === "number") return Math.min(at, text.length);
    throw at;
  }
}

/**
 * JSON.parse with a ConfigError naming the line and column of the syntax error. The parser's own message is
 * left out when it quotes the text (and always for `secret` files such as pull secrets).
 */
export function parseJsonText(text: string, file: string, what: string, fix = "fix the JSON syntax at that place", secret = false): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const offset = jsonErrorOffset(text);
    const where = lineColumn(text, offset < 0 ? 0 : offset);
    const v8 = (e as Error).message;
    const quotesText = /"/.test(v8.replace(/^Unexpected token '.'/, ""));
    const empty = text.trim() === "";
    const trailingComma = offset > 0 && "]}".includes(text[offset] ?? "") && text.slice(0, offset).trimEnd().endsWith(",");
    const detail = empty
      ? ": the file is empty"
      : trailingComma
        ? ": a comma before the closing bracket (JSON allows no trailing comma)"
        : secret || quotesText
          ? ""
          : `: ${v8.replace(/\s*\(line \d+ column \d+\)/, "").replace(/( in JSON)? at position \d+/, "")}`;
    const near = empty || trailingComma ? "" : offset >= 0 && offset < text.length && !secret ? ` (at ${JSON.stringify(text[offset])})` : offset >= text.length ? " (the text ends too early)" : "";
    const issue: ConfigIssue = { path: [`line ${where.line} column ${where.column}`], message: `the ${what} is not valid JSON${detail}${near}`, fix };
    throw new ConfigError(file, [issue]);
  }
}

/** YAML.parse with a ConfigError naming the line and column of each syntax error (never a stack trace). */
export function parseYamlText(text: string, file: string, what: string): unknown {
  const doc = YAML.parseDocument(text, { prettyErrors: false });
  if (doc.errors.length) {
    throw new ConfigError(
      file,
      doc.errors.map((err) => {
        const pos = err.linePos?.[0] ?? lineColumn(text, err.pos[0]);
        const line = "line" in pos ? pos.line : 1;
        const column = "col" in pos ? pos.col : (pos as { column: number }).column;
        return {
          path: [`line ${line} column ${column}`],
          message: `the ${what} is not valid YAML: ${err.message.split("\n")[0]}`,
          fix: "fix the YAML at that place (indent with spaces, not tabs; quote values that contain ': ' or start with '{', '[', '*', '&', '!', '%', '@' or '`')",
        };
      }),
    );
  }
  return doc.toJS();
}
