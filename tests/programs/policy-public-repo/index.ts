// Policy test program for mirror-repository-private (tests/policy/policy.test.ts): public repositories
// (one by one and as RepositorySets) in mirror namespaces when "violating"; private when "passing".
import { Organization } from "../../../providers/quay/organization";
import { Repository } from "../../../providers/quay/repository";
import { RepositorySet } from "../../../providers/quay/repository-set";
import { RepositorySetStandIn, policyTestConfig } from "../policy-support/standins";

export default function program() {
  const { connection, violating } = policyTestConfig();
  const visibility = violating ? "public" : "private";
  const operators = new Organization("operators", { connection, name: "openshift-operators" });
  new Repository("release-images", { connection, namespace: "openshift-release", name: "release-images", visibility });
  new Repository("operator-index", { connection, namespace: operators.name, name: "redhat/redhat-operator-index", visibility });
  new RepositorySet("operators-preseed", { connection, namespace: operators.name, repositories: ["redhat/b", "redhat/a"], visibility });
  new RepositorySetStandIn("release-preseed-list", { namespace: "openshift-release", repositories: ["openshift/release"], visibility });
  // Not a mirror namespace: public is allowed in both variants.
  new Repository("smoke", { connection, namespace: "platform", name: "smoke", visibility: "public" });
  new RepositorySet("platform-preseed", { connection, namespace: "platform", repositories: ["tools"], visibility: "public" });
  return {};
}
