// Policy test program for mirror-repository-private (tests/policy/policy.test.ts): public repositories
// (one by one and as a RepositorySet) in mirror namespaces when "violating"; private when "passing".
import { Organization } from "../../../providers/quay/organization";
import { Repository } from "../../../providers/quay/repository";
import { RepositorySetStandIn, policyTestConfig } from "../policy-support/standins";

export default function program() {
  const { connection, violating } = policyTestConfig();
  const visibility = violating ? "public" : "private";
  const operators = new Organization("operators", { connection, name: "openshift-operators" });
  new Repository("release-images", { connection, namespace: "openshift-release", name: "release-images", visibility });
  new Repository("operator-index", { connection, namespace: operators.name, name: "redhat/redhat-operator-index", visibility });
  new RepositorySetStandIn("operators-preseed", { namespace: operators.name, repositories: ["redhat/a", "redhat/b"], visibility });
  // Not a mirror namespace: public is allowed in both variants.
  new Repository("smoke", { connection, namespace: "platform", name: "smoke", visibility: "public" });
  return {};
}
