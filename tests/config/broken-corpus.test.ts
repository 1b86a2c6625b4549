// Every file in tests/fixtures/broken-config is one broken model, stack config or mapping; each must be
// rejected by validation alone (no API call is possible from these functions) with the expected message.
// Add a case by adding a file: { "kind": "model"|"stack"|"mapping", "expect": [substrings], "input": … }.
import * as fs from "fs";
import * as path from "path";
import { destinationRepositories, parseMapping } from "../../config/mapping";
import { parseRegistryModel } from "../../config/model";
import { parseStackConfig } from "../../config/stack";

const dir = path.join(__dirname, "../fixtures/broken-config");
const cases = fs.readdirSync(dir).filter((f) => f.endsWith(".json")).sort();

interface Case {
  kind: "model" | "stack" | "mapping";
  expect: string[];
  input: unknown;
  organization?: string;
  registryHostname?: string;
}

function validate(c: Case, file: string): void {
  switch (c.kind) {
    case "model":
      parseRegistryModel(c.input, file);
      return;
    case "stack":
      parseStackConfig(c.input as Record<string, unknown>, file);
      return;
    case "mapping":
      destinationRepositories(parseMapping(c.input as string, file), c.registryHostname!, c.organization!, file);
      return;
  }
}

describe("broken configuration corpus", () => {
  it("has at least 40 cases", () => expect(cases.length).toBeGreaterThanOrEqual(40));

  it.each(cases)("%s is rejected with a message that names the file, the path and the problem", (name) => {
    const c = JSON.parse(fs.readFileSync(path.join(dir, name), "utf8")) as Case;
    let message = "";
    try {
      validate(c, name);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).not.toBe("");
    expect(message).toContain(name);
    for (const expected of c.expect) expect(message).toContain(expected);
  });
});
