// A team whose role and members come from stack config (`test:role`, `test:members`: comma-separated short
// robot names out of the robots `test:robots`), against `test:endpoint` with the secret `test:token`. Used by
// tests/e2e/preview-diff.test.ts to read what `preview --diff` prints for a role change and a members change.
import * as pulumi from "@pulumi/pulumi";
import { Organization } from "../../../providers/quay/organization";
import { RobotAccount } from "../../../providers/quay/robot";
import { Team } from "../../../providers/quay/team";

export default function program() {
  const config = new pulumi.Config("test");
  const connection = { endpoint: config.require("endpoint"), token: config.requireSecret("token") };
  const prefix = config.require("prefix");
  const list = (key: string) => (config.get(key) ?? "").split(",").filter((s) => s !== "");

  const org = new Organization("org", { connection, name: `${prefix}org` });
  const robots = Object.fromEntries(
    list("robots").map((name) => [name, new RobotAccount(`robot-${name}`, { connection, namespace: org.name, name })]),
  );
  new Team("team", {
    connection,
    organization: org.name,
    name: "builders",
    role: (config.get("role") ?? "member") as "member" | "creator" | "admin",
    members: list("members").map((m) => robots[m].fullName),
  });
}
