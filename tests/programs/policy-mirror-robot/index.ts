// Policy test program for mirror-robot-no-admin (tests/policy/policy.test.ts). "violating" gives mirror
// robots admin every way the rule knows; "passing" is the lab's shape (write, team role creator).
import { DefaultPermission } from "../../../providers/quay/default-permission";
import { NamespaceReadGrant } from "../../../providers/quay/namespace-grant";
import { RepositoryPermission } from "../../../providers/quay/repository-permission";
import { RobotAccount } from "../../../providers/quay/robot";
import { Team } from "../../../providers/quay/team";
import { policyTestConfig } from "../policy-support/standins";

export default function program() {
  const { connection, violating } = policyTestConfig();
  const admin = violating ? "admin" : "write";
  // Its full name is computed by Quay: unknown in a preview, so the policy learns it from the robot.
  const release = new RobotAccount("release-mirror", { connection, namespace: "openshift-release", name: "ocp_mirror" });
  const ci = new RobotAccount("ci-push", { connection, namespace: "platform", name: "ci_push" });

  new RepositoryPermission("release-perm", { connection, namespace: "openshift-release", repository: "release-images", kind: "robot", name: release.fullName, role: admin });
  new DefaultPermission("operators-default", { connection, organization: "openshift-operators", delegateKind: "robot", delegateName: "openshift-operators+ocp_mirror", role: admin });
  new NamespaceReadGrant("release-grant", { connection, granteeKind: "robot", grantee: release.fullName, namespaces: ["openshift-release"], role: admin });
  new Team("release-creators", { connection, organization: "openshift-release", name: "mirror-creators", role: violating ? "admin" : "creator", members: [release.fullName] });
  // A team that is not admin itself but is given admin on a repository: its mirror robot would be admin.
  new Team("operators-pushers", { connection, organization: "openshift-operators", name: "pushers", role: "member", members: ["openshift-operators+ocp_mirror"] });
  new RepositoryPermission("operators-team-perm", { connection, namespace: "openshift-operators", repository: "redhat/redhat-operator-index", kind: "team", name: "pushers", role: admin });
  // Not mirror robots, not a mirror namespace: admin is allowed here in both variants.
  new Team("platform-admins", { connection, organization: "platform", name: "admins", role: "admin", members: [ci.fullName] });
  new RepositoryPermission("ci-perm", { connection, namespace: "platform", repository: "ci-tools", kind: "robot", name: "platform+ci_push", role: "admin" });
  return {};
}
