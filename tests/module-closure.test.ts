// The stand-in image's node modules: the closure of what it requires, enough to load them with nothing else.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { copyModuleClosure, moduleClosure } from "./support/module-closure";

const root = path.join(__dirname, "..");

describe("moduleClosure", () => {
  test("pg, ioredis and yaml bring their transitive dependencies, optional ones only when installed", () => {
    const dirs = moduleClosure(["yaml", "pg", "ioredis"], root);
    expect(dirs).toEqual(expect.arrayContaining(["node_modules/yaml", "node_modules/pg", "node_modules/pg-protocol", "node_modules/pg-types", "node_modules/postgres-array", "node_modules/pgpass", "node_modules/split2", "node_modules/ioredis", "node_modules/denque", "node_modules/debug", "node_modules/ms"]));
    expect(dirs).not.toContain("node_modules/jest");
    expect(dirs.every((d) => fs.existsSync(path.join(root, d, "package.json")))).toBe(true);
  });

  test("a missing module is named, with who needs it", () => {
    expect(() => moduleClosure(["no-such-module-qm"], root)).toThrow(/no-such-module-qm \(needed by the stand-in\) is not installed/);
  });

  test("the copied closure loads in a bare folder: pg, ioredis and yaml require()", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "qm-closure-"));
    try {
      copyModuleClosure(["yaml", "pg", "ioredis"], root, dir);
      const out = execFileSync(process.execPath, ["-e", "require('pg'); require('ioredis'); require('yaml'); console.log(require.resolve('pg'))"], { cwd: dir, env: { PATH: process.env.PATH ?? "" } }).toString();
      expect(out.trim()).toBe(path.join(fs.realpathSync(dir), "node_modules/pg/lib/index.js"));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
