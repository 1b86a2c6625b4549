// Every file in tests/fixtures/broken-config is one broken model, stack config, mapping or file as someone
// wrote it; each must be rejected by validation alone (no API call or remote command is possible from these
// functions) with the expected message, which names the file and never carries a stack trace.
// Add a case by adding a file: { "kind": …, "expect": [substrings], "input": … }. Kinds:
//   model | stack | mapping          the parsed document (mapping: its text, plus organization, registryHostname)
//   model-file | mapping-file | pull-secret-file | stack-file
//                                    the file's bytes: "input" is its text, or "inputBase64" its bytes (encodings),
//                                    read the way the program (stack-file: scripts/lab-stack.ts) reads them
//   program                          "input": the quay-mirror:* config, "model": the model document, "files":
//                                    other files of the project (mappings, …), "engineConfig": what the engine
//                                    hands the program (full keys, decrypted), "secretKeys": those it holds as
//                                    secrets; checked as components/program.ts does before declaring anything
//   host                             QuayHost's arguments from quay-mirror:host (connection.privateKey defaults
//                                    to a PEM-shaped stand-in)
// Cases with "fix": true must state the fix ("fix:" in the message).
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { destinationRepositories, loadMapping, parseMapping } from "../../config/mapping";
import { loadRegistryModel, parseRegistryModel } from "../../config/model";
import { loadProgramInputs } from "../../config/program";
import { parseDockerConfig } from "../../config/pull-secret";
import { parseQuayHostArgs } from "../../config/quay-host";
import { parseStackConfig } from "../../config/stack";
import { checkEngineConfig, parseStackSettings } from "../../config/stack-file";
import { readTextFile } from "../../config/text-file";
import { PEM } from "../quay-host/samples";

const dir = path.join(__dirname, "../fixtures/broken-config");
const cases = fs.readdirSync(dir).filter((f) => f.endsWith(".json")).sort();

interface Case {
  kind: "model" | "stack" | "mapping" | "model-file" | "mapping-file" | "pull-secret-file" | "stack-file" | "program" | "host";
  expect: string[];
  /** Substrings the message must not hold (e.g. a secret value). */
  notExpect?: string[];
  fix?: boolean;
  input: unknown;
  inputBase64?: string;
  organization?: string;
  registryHostname?: string;
  model?: unknown;
  files?: Record<string, string>;
  engineConfig?: Record<string, string>;
  secretKeys?: string[];
}

/** The case's file, written under its own name (so the message must name it) in a fresh directory. */
function writeCaseFile(c: Case, name: string): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "broken-corpus-")), name);
  fs.writeFileSync(file, c.inputBase64 !== undefined ? Buffer.from(c.inputBase64, "base64") : String(c.input));
  return file;
}

function validate(c: Case, name: string): void {
  switch (c.kind) {
    case "model":
      parseRegistryModel(c.input, name);
      return;
    case "stack":
      parseStackConfig(c.input as Record<string, unknown>, name);
      return;
    case "mapping":
      destinationRepositories(parseMapping(c.input as string, name), c.registryHostname!, c.organization!, name);
      return;
    case "model-file":
      loadRegistryModel(writeCaseFile(c, name));
      return;
    case "mapping-file": {
      const file = writeCaseFile(c, name);
      destinationRepositories(loadMapping(file), c.registryHostname!, c.organization!, file);
      return;
    }
    case "pull-secret-file": {
      const file = writeCaseFile(c, name);
      parseDockerConfig(readTextFile(file, "pull secret"), file);
      return;
    }
    case "stack-file":
      parseStackSettings(fs.readFileSync(writeCaseFile(c, name)), name);
      return;
    case "program": {
      const project = fs.mkdtempSync(path.join(os.tmpdir(), "broken-corpus-project-"));
      const raw = c.input as Record<string, unknown>;
      fs.mkdirSync(path.join(project, "data"), { recursive: true });
      if (c.model !== undefined) fs.writeFileSync(path.join(project, String(raw.modelFile ?? "model.json")), JSON.stringify(c.model));
      for (const [rel, text] of Object.entries(c.files ?? {})) {
        fs.mkdirSync(path.dirname(path.join(project, rel)), { recursive: true });
        fs.writeFileSync(path.join(project, rel), text);
      }
      const stackFile = path.join(project, name);
      const secretKeys = c.secretKeys ?? [];
      checkEngineConfig(c.engineConfig ?? {}, (k) => secretKeys.includes(k), stackFile);
      loadProgramInputs({ modelFile: "model.json", ...raw }, project, stackFile);
      return;
    }
    case "host": {
      const args = c.input as { connection?: Record<string, unknown> };
      const connection = { privateKey: PEM, ...(args.connection ?? {}) };
      parseQuayHostArgs({ ...args, connection }, `${name} (quay-mirror:host)`);
      return;
    }
  }
}

describe("broken configuration corpus", () => {
  it("has at least 40 cases", () => expect(cases.length).toBeGreaterThanOrEqual(40));

  it.each(cases)("%s is rejected with a message that names the file, the path and the problem", (name) => {
    const c = JSON.parse(fs.readFileSync(path.join(dir, name), "utf8")) as Case;
    let message = "";
    let error: unknown;
    try {
      validate(c, name);
    } catch (e) {
      error = e;
      message = (e as Error).message;
    }
    expect(message).not.toBe("");
    expect(message).toContain(name);
    for (const expected of c.expect) expect(message).toContain(expected);
    for (const absent of c.notExpect ?? []) expect(message).not.toContain(absent);
    if (c.fix) expect(message).toMatch(/fix: \S/);
    // Bad input, not a bug: the message holds no stack frame, and the engine prints it without one
    // (the SDK's RunError marker, tests/config/errors.test.ts).
    expect(message).not.toMatch(/\n\s+at .+[:(]\d+/);
    expect((error as { __pulumiRunError?: boolean }).__pulumiRunError).toBe(true);
  });
});
