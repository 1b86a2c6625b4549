// The node modules the stand-in Quay image (tests/e2e/stand-in) needs beside the compiled emulator, and a
// copy of their dependency closure (resolved as Node resolves it: nested node_modules first, then upward).
import * as fs from "fs";
import * as path from "path";

/** The S3 client the emulator's S3BlobStore loads (tests/emulator/storage.ts) when config.yaml uses RadosGWStorage. */
export const STAND_IN_S3_MODULES = ["minio"];

/** Every package directory (relative to `root`) that `names` need, themselves included. */
export function moduleClosure(root: string, names: string[]): string[] {
  const seen = new Set<string>();
  const visit = (name: string, fromDir: string) => {
    // Node's lookup: <dir>/node_modules/<name> for fromDir and each of its parents, up to root.
    let dir = fromDir;
    for (;;) {
      const candidate = path.join(dir, "node_modules", name);
      if (fs.existsSync(path.join(candidate, "package.json"))) {
        const rel = path.relative(root, candidate);
        if (seen.has(rel)) return;
        seen.add(rel);
        const pkg = JSON.parse(fs.readFileSync(path.join(candidate, "package.json"), "utf8")) as { dependencies?: Record<string, string> };
        for (const dep of Object.keys(pkg.dependencies ?? {})) visit(dep, candidate);
        return;
      }
      if (path.resolve(dir) === path.resolve(root)) throw new Error(`stand-in image: module ${name} (needed from ${path.relative(root, fromDir) || "."}) is not installed — run npm ci`);
      dir = path.dirname(dir);
    }
  };
  for (const n of names) visit(n, root);
  return [...seen].sort();
}

/** Copies the closure of `names` from `root`/node_modules into `appDir`/node_modules, at the same relative paths. */
export function copyModuleClosure(root: string, names: string[], appDir: string): string[] {
  const dirs = moduleClosure(root, names);
  for (const rel of dirs) fs.cpSync(path.join(root, rel), path.join(appDir, rel), { recursive: true });
  return dirs;
}
