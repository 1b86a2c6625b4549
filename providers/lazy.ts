// Why this file exists: the engine stores a dynamic resource's provider as serialized code (`__provider`)
// in every resource's state. Serializing a whole provider (client, checks, diffs: ~40 KB) into each of
// thousands of mirror repositories made the state grow to tens of MB and every checkpoint rewrite it.
// Instead, each resource carries this small shim (~2 KB), which loads the compiled provider from the
// project (bin/<module>.js, found upward from the provider process's working directory — the engine
// starts dynamic providers in the project directory) and delegates every call to it.
//
// Trade-off, the usual one for providers that live in packages: `delete` and `read` of old resources run
// the provider code of the current checkout, not a snapshot of the code that created them, so providers
// must keep reading state written by earlier versions (they do: outputs only ever gain keys).
import * as pulumi from "@pulumi/pulumi";

type Provider = pulumi.dynamic.ResourceProvider;

/**
 * A provider that delegates to `require(<project>/bin/<modulePath>.js)[className].instance`.
 * `modulePath` is relative to the project root, e.g. "providers/quay/repository".
 */
export function lazyProvider(modulePath: string, className: string): Provider {
  const load = (): Provider => {
    const registry = globalThis as unknown as Record<symbol, Record<string, Provider> | undefined>;
    const cacheKey = Symbol.for("quay-mirror.lazy-providers");
    const cache = registry[cacheKey] ?? (registry[cacheKey] = {});
    const key = `${modulePath}#${className}`;
    if (cache[key]) return cache[key];
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const fs = require("fs") as typeof import("fs");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const path = require("path") as typeof import("path");
    const override = process.env.QUAY_MIRROR_PROJECT_DIR;
    const start = override || process.cwd();
    for (let dir = start; ; dir = path.dirname(dir)) {
      const file = path.join(dir, "bin", `${modulePath}.js`);
      if (fs.existsSync(file)) {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const provider = (require(file) as Record<string, { instance?: Provider }>)[className]?.instance;
        if (!provider) throw new Error(`${file} has no ${className}.instance`);
        cache[key] = provider;
        return provider;
      }
      if (path.dirname(dir) === dir) {
        throw new Error(`cannot find the compiled quay-mirror provider bin/${modulePath}.js in ${start} or above it: run \`npm run build\` in the project first`);
      }
    }
  };
  // The host encodes results with protobuf's Struct.fromJavaScript, which throws "Unexpected struct
  // type" on an explicit `undefined`: drop them here, once, for every provider.
  const clean = <T>(value: T): T => {
    if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : clean(v))) as unknown as T;
    if (value && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) if (v !== undefined) out[k] = clean(v);
      return out as T;
    }
    return value;
  };
  return {
    async configure(req) {
      const p = load();
      if (p.configure) await p.configure(req);
    },
    async check(olds, news) {
      const p = load();
      return clean(p.check ? await p.check(olds, news) : { inputs: news });
    },
    async diff(id, olds, news) {
      const p = load();
      return p.diff ? p.diff(id, olds, news) : {};
    },
    async create(inputs) {
      return clean(await load().create(inputs));
    },
    async read(id, props) {
      const p = load();
      return clean(p.read ? await p.read(id, props) : { id, props });
    },
    async update(id, olds, news) {
      const p = load();
      return clean(p.update ? await p.update(id, olds, news) : { outs: news });
    },
    async delete(id, props) {
      const p = load();
      if (p.delete) await p.delete(id, props);
    },
  };
}
