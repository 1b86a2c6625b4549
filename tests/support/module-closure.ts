// The node modules a program needs at run time: the named packages and, transitively, every dependency and
// installed optional dependency their package.json files declare, resolved the way Node resolves them (the
// nearest node_modules up from the requiring package). Used to ship the stand-in Quay image with exactly the
// modules it requires (tests/e2e/lab-full.test.ts); to ship one more module, add its name to the roots.
import * as fs from "fs";
import * as path from "path";

interface PackageJson {
  name?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

/** Finds `name` from `fromDir` up to `root` as Node would; undefined when it is not installed. */
function resolvePackage(name: string, fromDir: string, root: string): string | undefined {
  for (let dir = fromDir; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "node_modules", name);
    if (fs.existsSync(path.join(candidate, "package.json"))) return candidate;
    if (dir === root || dir === path.dirname(dir)) return undefined;
  }
}

/**
 * Package folders (relative to `root`, e.g. "node_modules/pg", "node_modules/x/node_modules/y") that `roots`
 * need. Throws when a required (non-optional) dependency is missing.
 */
export function moduleClosure(roots: string[], root: string): string[] {
  const seen = new Set<string>();
  const queue: { name: string; from: string; optional: boolean; by: string }[] = roots.map((name) => ({ name, from: root, optional: false, by: "the stand-in" }));
  while (queue.length) {
    const { name, from, optional, by } = queue.shift()!;
    const dir = resolvePackage(name, from, root);
    if (!dir) {
      if (optional) continue;
      throw new Error(`module ${name} (needed by ${by}) is not installed under ${root}: run npm ci`);
    }
    const rel = path.relative(root, dir);
    if (seen.has(rel)) continue;
    seen.add(rel);
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as PackageJson;
    for (const dep of Object.keys(pkg.dependencies ?? {})) queue.push({ name: dep, from: dir, optional: false, by: name });
    for (const dep of Object.keys(pkg.optionalDependencies ?? {})) queue.push({ name: dep, from: dir, optional: true, by: name });
  }
  return [...seen].sort();
}

/** Copies the closure of `roots` from `root` into `dest` (same layout: dest/node_modules/...). */
export function copyModuleClosure(roots: string[], root: string, dest: string): string[] {
  const dirs = moduleClosure(roots, root);
  for (const rel of dirs) {
    // a nested package is copied with its parent; copy each folder without its own node_modules
    fs.cpSync(path.join(root, rel), path.join(dest, rel), { recursive: true, filter: (src) => path.relative(path.join(root, rel), src).split(path.sep)[0] !== "node_modules" });
  }
  return dirs;
}
