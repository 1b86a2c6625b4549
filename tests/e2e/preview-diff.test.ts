// Issue 15 "Make `preview --diff` read like a review", through the real engine against the emulator (program
// tests/programs/team-diff). The Node.js dynamic provider host sends the engine no detailed diff, so the engine
// prints a dynamic resource's update as a diff of its old and new inputs. What makes that read like a review:
// - a team's members are stored as a map name → kind, so a member entering or leaving is one `+`/`-` line and
//   the members that stay are not shown as changed (a list is diffed by position);
// - after a refresh finds drift, the live values become the old inputs (providers/quay/common.ts
//   driftedInputs), so the update that repairs it marks the drifted property instead of marking nothing.
import { uniqueName } from "../support/quay";
import { withEngineStack } from "../support/engine";
import { engineSuiteOnEmulator } from "../support/engine-suite";

jest.setTimeout(600_000);

/** The lines of the Team's update block in a `preview --diff` output (not its refresh block). */
function teamUpdate(out: string): string {
  const lines = out.split("\n");
  const start = lines.findIndex((l) => /pulumi-nodejs:dynamic\/quay:Team: \(update\)/.test(l));
  if (start < 0) return "";
  const end = lines.findIndex((l, i) => i > start && /^\s*Resources:|: \((same|update|create|delete|refresh|replace)\)/.test(l));
  return lines
    .slice(start, end < 0 ? undefined : end)
    .map((l) => l.trimEnd())
    .join("\n");
}

/** `<marker> <key>: <value>` with the padding the engine puts after keys. */
const line = (marker: "~" | "+" | "-" | "", key: string, value: string) =>
  new RegExp(`^\\s*${marker.replace(/[+~]/, "\\$&")}\\s*${key.replace(/[.+]/g, "\\$&")}\\s*: ${value.replace(/[.+[\]()]/g, "\\$&")}$`, "m");

describe("preview --diff of a team", () => {
  const suite = engineSuiteOnEmulator();

  test("a role change marks role; a members change shows each member entering or leaving; drift marks what drifted", async () => {
    const prefix = uniqueName("t");
    const robot = (n: string) => `${prefix}org+${n}`;
    await withEngineStack(
      {
        program: "team-diff",
        config: { "test:endpoint": suite.quay.emulator.url, "test:prefix": prefix, "test:robots": "alpha,bravo,charlie,delta", "test:members": "bravo,delta", "test:role": "member" },
        secrets: { "test:token": suite.quay.connection.token },
      },
      async (stack) => {
        await stack.up();

        // A stack written before members were stored as a map (they were a sorted list) plans no change.
        const state = await stack.stack.exportStack();
        const team = (state.deployment as { resources: { type: string; inputs: Record<string, unknown>; outputs: Record<string, unknown> }[] }).resources.find((r) => r.type === "pulumi-nodejs:dynamic/quay:Team")!;
        expect(team.outputs.members).toEqual({ [robot("bravo")]: "robot", [robot("delta")]: "robot" });
        team.inputs.members = [robot("bravo"), robot("delta")];
        team.outputs.members = [robot("bravo"), robot("delta")];
        await stack.stack.importStack(state);
        suite.quay.emulator.counter.reset();
        expect(Object.keys((await stack.preview({ refresh: true })).summary)).toEqual(["same"]);
        expect(Object.keys((await stack.up()).summary)).toEqual(["same"]);
        expect(suite.quay.emulator.counter.writes()).toBe(0);

        // The role: only `role` is marked.
        await stack.setConfig("test:role", "admin");
        const role = teamUpdate((await stack.preview()).stdout);
        expect(role).toMatch(line("~", "role", '"member" => "admin"'));
        expect(role).not.toMatch(/^\s*~ members/m);
        expect(role).toMatch(line("", robot("bravo"), '"robot"'));
        await stack.setConfig("test:role", "member");

        // The members: charlie enters, delta leaves, bravo stays unmarked.
        await stack.setConfig("test:members", "bravo,charlie");
        const members = teamUpdate((await stack.preview()).stdout);
        expect(members).toMatch(/^\s*~ members\s*: \{$/m);
        expect(members).toMatch(line("+", robot("charlie"), '"robot"'));
        expect(members).toMatch(line("-", robot("delta"), '"robot"'));
        expect(members).toMatch(line("", robot("bravo"), '"robot"'));
        expect(members).not.toMatch(/=>/);
        expect(members).not.toMatch(/^\s*~ role/m);
        await stack.setConfig("test:members", "bravo,delta");

        // Drift made in Quay: the update after the refresh marks exactly what drifted, as the repair.
        await suite.quay.admin.put(`/api/v1/organization/${prefix}org/team/builders`, { role: "creator", description: "" });
        await suite.quay.admin.put(`/api/v1/organization/${prefix}org/team/builders/members/${robot("alpha")}`);
        const drift = teamUpdate((await stack.preview({ refresh: true })).stdout);
        expect(drift).toMatch(line("~", "role", '"creator" => "member"'));
        expect(drift).toMatch(line("-", robot("alpha"), '"robot"'));
        expect(drift).toMatch(line("", robot("delta"), '"robot"'));

        // Repaired; then a refresh of the unchanged team shows no change.
        await stack.up({ refresh: true });
        suite.quay.emulator.counter.reset();
        expect(Object.keys((await stack.preview({ refresh: true })).summary)).toEqual(["same"]);
        expect(suite.quay.emulator.counter.writes()).toBe(0);
      },
    );
  });
});
