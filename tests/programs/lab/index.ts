// The real program (components/program.ts) as a test program: the stack config given by the test decides
// the mode, the model, the mappings and the endpoint.
import * as fs from "fs";
import * as path from "path";
import { quayMirror } from "../../../components/program";

function projectDir(start: string): string {
  let dir = start;
  while (!fs.existsSync(path.join(dir, "Pulumi.yaml"))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no Pulumi.yaml above ${start}`);
    dir = parent;
  }
  return dir;
}

export default function program() {
  return { ...quayMirror(projectDir(__dirname)) };
}
