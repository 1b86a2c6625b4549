// Policy test program for cluster-pull-user-read-only (tests/policy/policy.test.ts): the cluster-pull user
// gets more than read every way the rule knows when "violating"; read only when "passing".
import * as pulumi from "@pulumi/pulumi";
import { DefaultPermission } from "../../../providers/quay/default-permission";
import { NamespaceReadGrant } from "../../../providers/quay/namespace-grant";
import { RepositoryPermission } from "../../../providers/quay/repository-permission";
import { Team } from "../../../providers/quay/team";
import { User } from "../../../providers/quay/user";
import { policyTestConfig } from "../policy-support/standins";

export default function program() {
  const { connection, violating } = policyTestConfig();
  const more = violating ? "write" : "read";
  const user = new User("pull", { connection, username: "ocp_cluster_pull", password: pulumi.secret("throwaway-password-1") });

  new RepositoryPermission("release-perm", { connection, namespace: "openshift-release", repository: "release-images", kind: "user", name: user.username, role: more });
  new DefaultPermission("operators-default", { connection, organization: "openshift-operators", delegateKind: "user", delegateName: "ocp_cluster_pull", role: violating ? "admin" : "read" });
  new NamespaceReadGrant("grant", { connection, granteeKind: "user", grantee: user.username, namespaces: ["openshift-release"], role: more });
  if (violating) {
    new Team("creators", { connection, organization: "openshift-release", name: "creators", role: "creator", members: [user.username] });
  }
  // A plain member team is fine, unless the team itself is given more than read.
  new Team("readers", { connection, organization: "openshift-operators", name: "readers", role: "member", members: [user.username] });
  new RepositoryPermission("readers-perm", { connection, namespace: "openshift-operators", repository: "redhat/redhat-operator-index", kind: "team", name: "readers", role: more });
  // Another user may have write: only the cluster-pull user is limited.
  new RepositoryPermission("ci-user-perm", { connection, namespace: "platform", repository: "ci-tools", kind: "user", name: "ci_user", role: "write" });
  return {};
}
