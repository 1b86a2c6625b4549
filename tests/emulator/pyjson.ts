// Serialisation as Quay's Python stack produces it.
// - Flask-RESTful (API resources): json.dumps(data) + "\n" -> separators ", " / ": ", insertion order.
// - flask.jsonify (web routes, /v2 errors): compact separators, sorted keys, trailing "\n".
// - util/http.py abort: json.dumps(data), no trailing newline.
// ensure_ascii=True everywhere.

function escapeString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ch = s[i];
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\b") out += "\\b";
    else if (ch === "\f") out += "\\f";
    else if (c < 0x20 || c > 0x7e) out += "\\u" + c.toString(16).padStart(4, "0");
    else out += ch;
  }
  return out + '"';
}

export function pyDumps(value: unknown, opts: { compact?: boolean; sortKeys?: boolean } = {}): string {
  const itemSep = opts.compact ? "," : ", ";
  const keySep = opts.compact ? ":" : ": ";
  const enc = (v: unknown): string => {
    if (v === null || v === undefined) return "null";
    if (typeof v === "string") return escapeString(v);
    if (typeof v === "number") {
      if (!Number.isFinite(v)) return v > 0 ? "Infinity" : v < 0 ? "-Infinity" : "NaN";
      return String(v);
    }
    if (typeof v === "boolean") return v ? "true" : "false";
    if (Array.isArray(v)) return "[" + v.map(enc).join(itemSep) + "]";
    if (v instanceof Date) return escapeString(v.toISOString());
    if (typeof v === "object") {
      let keys = Object.keys(v as Record<string, unknown>).filter((k) => (v as Record<string, unknown>)[k] !== undefined);
      if (opts.sortKeys) keys = keys.sort();
      return "{" + keys.map((k) => escapeString(k) + keySep + enc((v as Record<string, unknown>)[k])).join(itemSep) + "}";
    }
    return "null";
  };
  return enc(value);
}

/** Python repr() of a JSON value, as jsonschema error messages print instances. */
export function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(v);
  if (typeof v === "string") {
    const useDouble = v.includes("'") && !v.includes('"');
    const q = useDouble ? '"' : "'";
    let out = q;
    for (const ch of v) {
      const c = ch.codePointAt(0) as number;
      if (ch === "\\") out += "\\\\";
      else if (ch === q) out += "\\" + q;
      else if (ch === "\n") out += "\\n";
      else if (ch === "\r") out += "\\r";
      else if (ch === "\t") out += "\\t";
      else if (c < 0x20 || c === 0x7f) out += "\\x" + c.toString(16).padStart(2, "0");
      else out += ch;
    }
    return out + q;
  }
  if (Array.isArray(v)) return "[" + v.map(pyRepr).join(", ") + "]";
  if (typeof v === "object") {
    return "{" + Object.entries(v as Record<string, unknown>).map(([k, x]) => pyRepr(k) + ": " + pyRepr(x)).join(", ") + "}";
  }
  return String(v);
}
