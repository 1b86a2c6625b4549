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
 * JSON.parse with a ConfigError naming the line and column of the syntax error. `secret`: the file holds
 * secrets, so the parser's message (which may quote the text) is left out.
 */
export function parseJsonText(text: string, file: string, what: string, fix = "fix the JSON syntax at that place", secret = false): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const message = (e as Error).message;
    const position = /at position (\d+)/.exec(message);
    const lc = /\(line (\d+) column (\d+)\)/.exec(message);
    const where = lc ? { line: Number(lc[1]), column: Number(lc[2]) } : position ? lineColumn(text, Number(position[1])) : text.trim() === "" ? { line: 1, column: 1 } : undefined;
    const detail = message.replace(/\s*\(line \d+ column \d+\)/, "").replace(/^JSON\.parse: /, "");
    const issue: ConfigIssue = {
      path: [where ? `line ${where.line} column ${where.column}` : "syntax"],
      message: `the ${what} is not valid JSON${text.trim() === "" ? ": the file is empty" : secret ? "" : `: ${detail}`}`,
      fix,
    };
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
