// The stand-in image's node modules (tests/support/stand-in-modules.ts): the closure of what it requires,
// enough to load them in a bare folder.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { copyModuleClosure, moduleClosure, STAND_IN_S3_MODULES } from "./support/stand-in-modules";

const root = path.join(__dirname, "..");
const MODULES = ["yaml", "pg", "ioredis", ...STAND_IN_S3_MODULES];

describe("the stand-in's module closure", () => {
  test("pg, ioredis, yaml and the S3 client bring their transitive dependencies and nothing else", () => {
    const dirs = moduleClosure(root, MODULES);
    expect(dirs).toEqual(expect.arrayContaining(["node_modules/yaml", "node_modules/pg", "node_modules/pg-protocol", "node_modules/pg-types", "node_modules/postgres-array", "node_modules/pgpass", "node_modules/split2", "node_modules/ioredis", "node_modules/denque", "node_modules/debug", "node_modules/ms", "node_modules/minio"]));
    expect(dirs).not.toContain("node_modules/jest");
    expect(dirs.every((d) => fs.existsSync(path.join(root, d, "package.json")))).toBe(true);
  });

  test("a missing module is named", () => {
    expect(() => moduleClosure(root, ["no-such-module-qm"])).toThrow(/module no-such-module-qm .* is not installed/);
  });

  test("the copied closure loads in a bare folder: pg, ioredis, yaml and minio require()", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "qm-closure-"));
    try {
      copyModuleClosure(root, MODULES, dir);
      const out = execFileSync(process.execPath, ["-e", "for (const m of ['pg', 'ioredis', 'yaml', 'minio']) require(m); console.log(require.resolve('pg'))"], { cwd: dir, env: { PATH: process.env.PATH ?? "" } }).toString();
      expect(out.trim()).toBe(path.join(fs.realpathSync(dir), "node_modules/pg/lib/index.js"));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
