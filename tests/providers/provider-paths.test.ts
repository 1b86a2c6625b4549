// Every resource's state stores the "<module>#<Class>" of its provider shim, and the shim resolves it from
// bin/ only when the stack next runs (providers/lazy.ts). So a rename that breaks a path would show up only
// in an existing stack's next preview. This suite checks every path now: each `lazyProvider(...)` call in
// the source (found by scanning every .ts file outside tests/, bin/ and node_modules/) and each target
// already stored by released shims (`storedProviderTargets`) must resolve, through the compiled
// bin/providers/lazy.js the shims load, to a module exporting that provider class with its `instance`.
// Runs compiled code: `npx tsc -p .` first.
import * as fs from "fs";
import * as path from "path";

const root = path.join(__dirname, "../..");
const compiledLazy = path.join(root, "bin", "providers", "lazy.js");

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return ["node_modules", "bin", "tests", ".git", ".pulumi-state"].includes(e.name) ? [] : sourceFiles(full);
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [full] : [];
  });
}

/** Every call of lazyProvider in the source, except its definition and comment lines. */
const callSites = sourceFiles(root).flatMap((file) => {
  const rel = path.relative(root, file);
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .flatMap((line, i) => (/\blazyProvider\(/.test(line) && !/function lazyProvider\(/.test(line) && !/^\s*(\/\/|\/?\*)/.test(line) ? [{ rel, line: i + 1, text: line.trim() }] : []));
});
const literalCall = /\blazyProvider\("([^"]+)", "(\w+)"\)/;

type Lazy = typeof import("../../providers/lazy");
const lazy = (): Lazy => {
  if (!fs.existsSync(compiledLazy)) throw new Error(`${compiledLazy} is missing: run \`npx tsc -p .\` first`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(compiledLazy) as Lazy;
};

describe("every provider path a shim can store resolves", () => {
  it("finds the call sites (one per provider module)", () => {
    expect(callSites.length).toBeGreaterThanOrEqual(15);
  });

  it("every lazyProvider call names its module and class with string literals", () => {
    const nonLiteral = callSites.filter((c) => !literalCall.test(c.text)).map((c) => `${c.rel}:${c.line}: ${c.text}`);
    expect(nonLiteral).toEqual([]);
  });

  it("every lazyProvider call names its own file, and its target is recorded in storedProviderTargets", () => {
    const stored = new Set(lazy().storedProviderTargets);
    for (const c of callSites) {
      const [, modulePath, className] = literalCall.exec(c.text)!;
      expect({ at: `${c.rel}:${c.line}`, file: `${modulePath}.ts` }).toEqual({ at: `${c.rel}:${c.line}`, file: c.rel });
      expect({ at: `${c.rel}:${c.line}`, recorded: stored.has(`${modulePath}#${className}`) }).toEqual({ at: `${c.rel}:${c.line}`, recorded: true });
    }
  });

  it("storedProviderTargets has no duplicates", () => {
    const targets = lazy().storedProviderTargets;
    expect(new Set(targets).size).toBe(targets.length);
  });

  it.each(
    // Listed targets are read from the source so that the test table exists before bin/ is checked.
    [...fs.readFileSync(path.join(root, "providers", "lazy.ts"), "utf8").matchAll(/^ {2}"([\w/-]+#\w+)",$/gm)].map((m) => m[1]),
  )("%s resolves to a compiled module exporting the provider class", (target) => {
    const [modulePath, className] = target.split("#");
    const file = path.join(root, "bin", `${modulePath}.js`);
    expect(fs.existsSync(file)).toBe(true);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const exported = (require(file) as Record<string, { name?: string; instance?: unknown }>)[className];
    expect(typeof exported).toBe("function");
    expect(exported.instance).toBeInstanceOf(exported as unknown as new () => unknown);
    // And the compiled dispatcher the shims call finds the same instance.
    const provider = lazy().loadProvider(modulePath, className) as unknown as Record<string, unknown>;
    expect(provider).toBe(exported.instance);
    expect(typeof provider.create).toBe("function");
  });

  it("the table above is the whole of storedProviderTargets", () => {
    const fromSource = [...fs.readFileSync(path.join(root, "providers", "lazy.ts"), "utf8").matchAll(/^ {2}"([\w/-]+#\w+)",$/gm)].map((m) => m[1]);
    expect(fromSource).toEqual([...lazy().storedProviderTargets]);
  });

  it("a target whose module is missing is refused with the build hint, not resolved", () => {
    expect(() => lazy().loadProvider("providers/quay/renamed-away", "RenamedAwayProvider")).toThrow(/bin\/providers\/quay\/renamed-away\.js.*npm run build/);
  });

  it("a target whose module lacks the class is refused by name", () => {
    expect(() => lazy().loadProvider("providers/quay/robot", "NoSuchProvider")).toThrow(/robot\.js has no NoSuchProvider\.instance/);
  });
});
