// A small jsonschema (3.2, Draft 7) validator that reports the error `validate()` would raise:
// best_match picks the error with the shortest path, the first one in schema keyword order.
import { pyRepr } from "./pyjson";

export type Schema = Record<string, unknown>;

interface VErr {
  message: string;
  validator: string;
  path: (string | number)[];
  schemaPath: (string | number)[];
  schema: Schema;
  instance: unknown;
}

function isType(v: unknown, t: string): boolean {
  switch (t) {
    case "string": return typeof v === "string";
    case "integer": return typeof v === "number" && Number.isInteger(v);
    case "number": return typeof v === "number";
    case "boolean": return typeof v === "boolean";
    case "null": return v === null;
    case "array": return Array.isArray(v);
    case "object": return typeof v === "object" && v !== null && !Array.isArray(v);
    default: return true;
  }
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function* iterErrors(inst: unknown, schema: Schema, path: (string | number)[], spath: (string | number)[]): Generator<VErr> {
  for (const [kw, val] of Object.entries(schema)) {
    const base = { validator: kw, schema, instance: inst, path, schemaPath: [...spath, kw] };
    switch (kw) {
      case "type": {
        const types = Array.isArray(val) ? (val as string[]) : [val as string];
        if (!types.some((t) => isType(inst, t))) yield { ...base, message: `${pyRepr(inst)} is not of type ${types.map(pyRepr).join(", ")}` };
        break;
      }
      case "required": {
        if (isType(inst, "object")) for (const r of val as string[]) {
          if (!(r in (inst as Record<string, unknown>))) yield { ...base, message: `${pyRepr(r)} is a required property` };
        }
        break;
      }
      case "properties": {
        if (isType(inst, "object")) for (const [p, sub] of Object.entries(val as Record<string, Schema>)) {
          const o = inst as Record<string, unknown>;
          if (p in o) yield* iterErrors(o[p], sub, [...path, p], [...spath, "properties", p]);
        }
        break;
      }
      case "items": {
        if (Array.isArray(inst)) for (let i = 0; i < inst.length; i++) yield* iterErrors(inst[i], val as Schema, [...path, i], [...spath, "items"]);
        break;
      }
      case "enum": {
        if (!(val as unknown[]).some((e) => deepEqual(e, inst))) yield { ...base, message: `${pyRepr(inst)} is not one of ${pyRepr(val)}` };
        break;
      }
      case "maxLength":
        if (typeof inst === "string" && [...inst].length > (val as number)) yield { ...base, message: `${pyRepr(inst)} is too long` };
        break;
      case "minLength":
        if (typeof inst === "string" && [...inst].length < (val as number)) yield { ...base, message: `${pyRepr(inst)} is too short` };
        break;
      case "minimum":
        if (typeof inst === "number" && inst < (val as number)) yield { ...base, message: `${pyRepr(inst)} is less than the minimum of ${pyRepr(val)}` };
        break;
      default:
        break;
    }
  }
}

/** Returns str(ValidationError) of jsonschema.validate(instance, schema), or null when valid. */
export function validateSchema(instance: unknown, schema: Schema): string | null {
  let best: VErr | null = null;
  for (const e of iterErrors(instance, schema, [], [])) {
    if (!best || -e.path.length > -best.path.length) best = e;
  }
  if (!best) return null;
  const sp = best.schemaPath.slice(0, -1).map((p) => `[${pyRepr(p)}]`).join("");
  const ip = best.path.map((p) => `[${pyRepr(p)}]`).join("");
  return `${best.message}\n\nFailed validating ${pyRepr(best.validator)} in schema${sp}:\n    ${pyRepr(best.schema)}\n\nOn instance${ip}:\n    ${pyRepr(best.instance)}`;
}
