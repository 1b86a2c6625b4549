// Why this file exists: the engine stores a dynamic resource's provider as serialized code (`__provider`)
// in every resource's state — twice, in its inputs and in its outputs — and the file backend rewrites the
// whole state after every step. Serializing a whole provider (client, checks, diffs: ~40 KB) into each of
// thousands of mirror repositories would make the state grow to tens of MB (docs/performance.md). Instead,
// each resource stores only the small shim `lazyProvider` returns (~2.9 KB of text): it finds this module
// compiled in the project (bin/providers/lazy.js, found upward from the provider process's working
// directory — the engine starts dynamic providers in the project directory) and hands it every call;
// `dispatch` below loads the real provider (bin/<module>.js) and delegates.
//
// Because only the shim is serialized, provider modules (providers/quay/*, providers/minio/*,
// providers/local/*) are ordinary modules loaded with `require` from bin/: they may hold module-level
// values, import anything, and use any language feature. Only the body of `lazyProvider` below is stored
// in state and must stay small and self-contained.
//
// Trade-off, the usual one for providers that live in packages: `delete` and `read` of old resources run
// the provider code of the current checkout, not a snapshot of the code that created them, so providers
// must keep reading state written by earlier versions (they do: outputs only ever gain keys).
//
// Renaming a provider file or class (docs/architecture.md, "Renaming a provider file"): every existing
// resource's state holds the string "<module>#<Class>" of the shim that created it, and its next
// preview, refresh or destroy requires bin/<module>.js and takes <Class>.instance from it. So a path in
// `storedProviderTargets` is never removed: after a rename, keep the old file as an alias module that
// re-exports the class from the new one (`export { RobotAccountProvider } from "./robot-account";`),
// and add the new target to the list. tests/providers/provider-paths.test.ts checks, after `tsc`, that
// every target listed here and every `lazyProvider(...)` call in the source resolves to a compiled
// module exporting that provider class.
import * as pulumi from "@pulumi/pulumi";

type Provider = pulumi.dynamic.ResourceProvider;
type Method = "configure" | "check" | "diff" | "create" | "read" | "update" | "delete";

/** The project directory this compiled module belongs to (bin/providers/lazy.js → the project). */
const projectDir = (): string => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const path = require("path") as typeof import("path");
  return path.resolve(__dirname, "..", "..");
};

const missingBuild = (modulePath: string, start: string) =>
  new Error(`cannot find the compiled quay-mirror provider bin/${modulePath}.js in ${start} or above it: run \`npm run build\` in the project first`);

/**
 * Every "<module>#<Class>" a released shim has stored in state. Append only: existing stacks' state keeps
 * the targets of the code that created their resources (see the rule above).
 */
export const storedProviderTargets: readonly string[] = [
  "providers/local/random-secret#RandomSecretProvider",
  "providers/local/registry-certificate#RegistryCertificateProvider",
  "providers/minio/bucket#BucketProvider",
  "providers/minio/policy#PolicyProvider",
  "providers/minio/user#UserProvider",
  "providers/quay/api-token#ApiTokenProvider",
  "providers/quay/default-permission#DefaultPermissionProvider",
  "providers/quay/namespace-grant#NamespaceReadGrantProvider",
  "providers/quay/organization#OrganizationProvider",
  "providers/quay/proxy-cache#ProxyCacheProvider",
  "providers/quay/repository#RepositoryProvider",
  "providers/quay/repository-permission#RepositoryPermissionProvider",
  "providers/quay/repository-set#RepositorySetProvider",
  "providers/quay/robot#RobotAccountProvider",
  "providers/quay/team#TeamProvider",
  "providers/quay/user#UserProvider",
];

/** The provider instance a shim's `<modulePath>#<className>` names, loaded from this project's bin/ (cached). */
export function loadProvider(modulePath: string, className: string): Provider {
  const registry = globalThis as unknown as Record<symbol, Record<string, Provider> | undefined>;
  const cache = registry[Symbol.for("quay-mirror.lazy-providers")] ?? (registry[Symbol.for("quay-mirror.lazy-providers")] = {});
  const key = `${modulePath}#${className}`;
  if (cache[key]) return cache[key];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const fs = require("fs") as typeof import("fs");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const path = require("path") as typeof import("path");
  const file = path.join(projectDir(), "bin", `${modulePath}.js`);
  if (!fs.existsSync(file)) throw missingBuild(modulePath, process.env.QUAY_MIRROR_PROJECT_DIR || process.cwd());
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const provider = (require(file) as Record<string, { instance?: Provider }>)[className]?.instance;
  if (!provider) throw new Error(`${file} has no ${className}.instance`);
  cache[key] = provider;
  return provider;
}

/**
 * The host encodes results with protobuf's Struct.fromJavaScript, which throws "Unexpected struct type" on
 * an explicit `undefined`: drop them here, once, for every provider.
 */
function clean<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : clean(v))) as unknown as T;
  if (value && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) if (v !== undefined) out[k] = clean(v);
    return out as T;
  }
  return value;
}

/** What a shim calls: runs `method` of `<modulePath>#<className>` with the provider's defaults for missing methods. */
export async function dispatch(target: string, method: Method, args: unknown[]): Promise<unknown> {
  const [modulePath, className] = target.split("#");
  const p = loadProvider(modulePath, className) as unknown as Record<Method, ((...a: unknown[]) => Promise<unknown>) | undefined>;
  const [a, b, c] = args;
  switch (method) {
    case "configure":
      if (p.configure) await p.configure(a);
      return undefined;
    case "check":
      return clean(p.check ? await p.check(a, b) : { inputs: b });
    case "diff":
      return p.diff ? p.diff(a, b, c) : {};
    case "create":
      return clean(await p.create!(a));
    case "read":
      return clean(p.read ? await p.read(a, b) : { id: a, props: b });
    case "update":
      return clean(p.update ? await p.update(a, b, c) : { outs: c });
    case "delete":
      if (p.delete) await p.delete(a, b);
      return undefined;
  }
}

/**
 * A provider that delegates to `require(<project>/bin/<modulePath>.js)[className].instance` through
 * `dispatch` of the compiled copy of this module. `modulePath` is relative to the project root, e.g.
 * "providers/quay/repository". Only this function's closure is stored in state: keep it small. Call it
 * with string literals, and add a new target to `storedProviderTargets`.
 */
export function lazyProvider(modulePath: string, className: string): Provider {
  const target = `${modulePath}#${className}`;
  // No comments inside: the closure serializer stores function bodies verbatim.
  const call = (method: string, args: unknown[]): Promise<any> => {
    const g = globalThis as any;
    const key = Symbol.for("quay-mirror.lazy-dispatch");
    if (!g[key]) {
      const fs = require("fs"), path = require("path");
      const start = process.env.QUAY_MIRROR_PROJECT_DIR || process.cwd();
      for (let dir = start; !g[key]; dir = path.dirname(dir)) {
        const file = path.join(dir, "bin", "providers", "lazy.js");
        if (fs.existsSync(file)) g[key] = require(file).dispatch;
        else if (path.dirname(dir) === dir) return Promise.reject(new Error(`cannot find the compiled quay-mirror provider bin/${target.split("#")[0]}.js in ${start} or above it: run \`npm run build\` in the project first`));
      }
    }
    return g[key](target, method, args);
  };
  return {
    configure: (...a) => call("configure", a),
    check: (...a) => call("check", a),
    diff: (...a) => call("diff", a),
    create: (...a) => call("create", a),
    read: (...a) => call("read", a),
    update: (...a) => call("update", a),
    delete: (...a) => call("delete", a),
  };
}
