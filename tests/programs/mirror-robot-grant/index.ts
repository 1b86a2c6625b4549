// A mirror namespace as the registry model declares it: the mirror robot in a `creator` team (oc-mirror
// creates repositories by pushing), `write` on every repository now (NamespaceReadGrant) and later
// (DefaultPermission). Used by tests/e2e/mirror-robot-admin.test.ts through the real engine, against the
// endpoint and token given in stack config (`test:endpoint`, secret `test:token`, `test:prefix`).
import * as pulumi from "@pulumi/pulumi";
import { DefaultPermission } from "../../../providers/quay/default-permission";
import { NamespaceReadGrant } from "../../../providers/quay/namespace-grant";
import { Organization } from "../../../providers/quay/organization";
import { Repository } from "../../../providers/quay/repository";
import { RobotAccount } from "../../../providers/quay/robot";
import { Team } from "../../../providers/quay/team";

export default function program() {
  const config = new pulumi.Config("test");
  const connection = { endpoint: config.require("endpoint"), token: config.requireSecret("token") };
  const org = new Organization("org", { connection, name: `${config.require("prefix")}mirror` });
  const robot = new RobotAccount("robot", { connection, namespace: org.name, name: "ocp_mirror", description: "oc-mirror pushes" });
  new Team("creators", { connection, organization: org.name, name: "mirror-creators", role: "creator", members: [robot.fullName] });
  const proto = new DefaultPermission("proto", { connection, organization: org.name, delegateKind: "robot", delegateName: robot.fullName, role: "write" });
  const repo = new Repository("seeded", { connection, namespace: org.name, name: "openshift/seeded", description: "" }, { dependsOn: [proto] });
  new NamespaceReadGrant("grant", { connection, granteeKind: "robot", grantee: robot.fullName, namespaces: [org.name], role: "write" }, { dependsOn: [proto, repo] });
  return { robotName: robot.fullName, robotToken: robot.token };
}
