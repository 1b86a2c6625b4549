// The host-side shell templates of every component (components/<component>/templates/<name>.sh), read by
// one loader. A line `# @include lib/<file>.sh` stands for that file of the component's own templates/lib/;
// `# @include templates-lib/<file>.sh` for a fragment several components share (components/templates-lib/).
// Code that more than one script carries is written once, and a rendered script still holds all of it: the
// host runs one self-contained file, and the step's command text (what the engine diffs) is the whole script.
import * as fs from "fs";
import * as path from "path";

const INCLUDE_LINE = /^# @include ((?:lib|templates-lib)\/[a-z0-9-]+\.sh)$/gm;

/**
 * components/<component>/templates: beside this file when run from source (ts-jest), or back in the source
 * tree when run compiled from bin/components (the templates are not copied into bin/).
 */
export function templateDir(component: string): string {
  const candidates = [path.join(__dirname, component, "templates"), path.resolve(__dirname, "..", "..", "components", component, "templates")];
  for (const c of candidates) if (fs.existsSync(c)) return c;
  throw new Error(`templates of ${component} not found (looked in ${candidates.join(", ")})`);
}

/** The text of components/<component>/templates/<name>.sh with its includes expanded. */
export function readComponentTemplate(component: string, name: string): string {
  const dir = templateDir(component);
  const componentsRoot = path.resolve(dir, "..", "..");
  const resolve = (file: string) => (file.startsWith("templates-lib/") ? path.join(componentsRoot, file) : path.join(dir, file));
  return fs.readFileSync(path.join(dir, `${name}.sh`), "utf8").replace(INCLUDE_LINE, (_, file: string) => fs.readFileSync(resolve(file), "utf8").trimEnd());
}
