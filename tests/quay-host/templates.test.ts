// The step templates: every rendered step passes shellcheck, follows the template rules, and carries
// any value — however hostile — into the script unchanged and inert.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  readTemplate,
  renderStep,
  renderTemplateText,
  shq,
  STEP_TEMPLATES,
  StepTemplate,
  StepValue,
  templatePlaceholders,
  valuesBlock,
  VALUES_BEGIN,
  VALUES_END,
} from "../../components/quay-host/render";
import { bash, HOSTILE, SAMPLE_VALUES } from "./samples";

function shellcheck(files: string[]): { status: number | null; output: string } {
  const r = spawnSync("shellcheck", ["--shell=bash", "--severity=style", ...files], { encoding: "utf8" });
  if (r.error) throw new Error(`shellcheck is not installed (apt-get update && apt-get install -y shellcheck): ${r.error.message}`);
  return { status: r.status, output: r.stdout + r.stderr };
}

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "quay-host-templates-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The variable names a values block assigns, with whether each is an array. */
function assignedVars(block: string): { name: string; array: boolean }[] {
  return block
    .split("\n")
    .map((l) => /^readonly ([a-z_][a-z0-9_]*)=(\()?/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ name: m[1]!, array: m[2] === "(" }));
}

describe("step templates", () => {
  test("there is one template per step and each has the required shape", () => {
    const files = fs.readdirSync(path.join(__dirname, "../../components/quay-host/templates")).sort();
    expect(files).toEqual([...STEP_TEMPLATES].map((t) => `${t}.sh`).sort());
    for (const t of STEP_TEMPLATES) {
      const text = readTemplate(t);
      expect(text.startsWith("#!/usr/bin/env bash\n")).toBe(true);
      expect(text.split("\n")).toContain("set -euo pipefail");
      expect(text.indexOf("set -euo pipefail")).toBeLessThan(text.indexOf(VALUES_BEGIN));
      expect(text).toContain(VALUES_END);
      expect(Object.keys(SAMPLE_VALUES[t]).sort()).toEqual([...new Set(templatePlaceholders(text))].sort());
    }
  });

  test("every rendered step passes shellcheck (realistic values)", () => {
    const files = STEP_TEMPLATES.map((t) => {
      const f = path.join(dir, `${t}.sh`);
      fs.writeFileSync(f, renderStep(t, SAMPLE_VALUES[t]));
      return f;
    });
    const r = shellcheck(files);
    expect(r.output).toBe("");
    expect(r.status).toBe(0);
  });

  test("every rendered step passes shellcheck with hostile values in every slot", () => {
    // only the values block differs between renderings; a sample of the nastiest values is enough here
    // (every value of the corpus goes through bash below)
    const sample = HOSTILE.filter((h) => /['"$`\\\n*;]/.test(h)).slice(0, 12);
    const files: string[] = [];
    for (const t of STEP_TEMPLATES) {
      sample.forEach((h, i) => {
        const f = path.join(dir, `${t}-hostile-${i}.sh`);
        fs.writeFileSync(f, renderStep(t, hostileValues(t, h)));
        files.push(f);
      });
    }
    const r = shellcheck(files);
    expect(r.output).toBe("");
    expect(r.status).toBe(0);
  });

  test("renderStep refuses missing values, unused values and placeholders outside the values block", () => {
    expect(() => renderStep("health", { URL: "x" })).toThrow(/missing values TIMEOUT, INTERVAL, DEPLOYMENT/);
    expect(() => renderStep("health", { ...SAMPLE_VALUES.health, EXTRA: "x" })).toThrow(/unused values EXTRA/);
    const bad = `#!/usr/bin/env bash\nset -euo pipefail\n${VALUES_BEGIN}\nreadonly a=@@A@@\n${VALUES_END}\necho @@A@@\n`;
    expect(() => renderTemplateText(bad, { A: "x" })).toThrow(/line 6 uses a placeholder outside/);
    const inline = `#!/usr/bin/env bash\nset -euo pipefail\n${VALUES_BEGIN}\nreadonly a="pre@@A@@"\n${VALUES_END}\n`;
    expect(() => renderTemplateText(inline, { A: "x" })).toThrow(/placeholder outside/);
  });
});

/** Every value of a template set to the hostile string (numbers stay numbers: their slots are typed). */
function hostileValues(t: StepTemplate, h: string): Record<string, StepValue> {
  return Object.fromEntries(
    Object.entries(SAMPLE_VALUES[t]).map(([k, v]) => [k, Array.isArray(v) ? [h, "second", h] : typeof v === "number" ? v : h]),
  );
}

describe("shq: the one quoting helper", () => {
  const marker = () => fs.existsSync(path.join(dir, "PWNED"));

  test.each(HOSTILE.map((h) => [JSON.stringify(h), h]))("bash -c echoes %s back unchanged and runs nothing", (_label, h) => {
    const r = bash(`printf '%s' ${shq(h)}`, { cwd: dir });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(h);
    expect(marker()).toBe(false);
  });

  test("as an argument, a value stays one word and is never an option", () => {
    const r = bash(`set -- ${shq("-rf")} ${shq("a b")} ${shq("*")}; printf '%s|' "$#" "$@"`, { cwd: dir });
    expect(r.stdout).toBe("3|-rf|a b|*|");
  });

  test("NUL cannot be passed through a shell and is refused", () => {
    expect(() => shq("a\0b")).toThrow(/NUL/);
  });

  test("every template's values block evaluates to exactly the values given, for every hostile value", () => {
    const SEP = "\u0001END\u0001";
    for (const t of STEP_TEMPLATES) {
      // one bash per template: each hostile rendering in its own subshell, outputs separated by SEP
      const parts = HOSTILE.map((h) => {
        const block = valuesBlock(renderStep(t, hostileValues(t, h)));
        const print = assignedVars(block)
          .map((v) => (v.array ? `printf '%s\\0' "\${${v.name}[@]}"` : `printf '%s\\0' "$${v.name}"`))
          .join("\n");
        return `(\nset -euo pipefail\n${block}\n${print}\n)\nprintf '\\001END\\001'`;
      });
      const r = bash(parts.join("\n"), { cwd: dir });
      expect({ t, status: r.status, stderr: r.stderr }).toEqual({ t, status: 0, stderr: "" });
      const outputs = r.stdout.split(SEP).slice(0, -1);
      expect(outputs).toHaveLength(HOSTILE.length);
      HOSTILE.forEach((h, i) => {
        const values = hostileValues(t, h);
        // one printed value per assigned word, in the template's placeholder order
        const expected = templatePlaceholders(readTemplate(t)).flatMap((k) => (Array.isArray(values[k]) ? (values[k] as string[]).map(String) : [String(values[k])]));
        expect({ t, h, got: outputs[i]!.split("\0").slice(0, -1) }).toEqual({ t, h, got: expected });
      });
      expect(marker()).toBe(false);
    }
  });
});
