// One of each Quay resource, against the endpoint and token given in stack config (`test:endpoint`,
// secret `test:token`). Used by tests/e2e/all-resources.test.ts through the real engine.
import * as pulumi from "@pulumi/pulumi";
import { ApiToken } from "../../../providers/quay/api-token";
import { DefaultPermission } from "../../../providers/quay/default-permission";
import { NamespaceReadGrant } from "../../../providers/quay/namespace-grant";
import { Organization } from "../../../providers/quay/organization";
import { ProxyCache } from "../../../providers/quay/proxy-cache";
import { Repository } from "../../../providers/quay/repository";
import { RepositoryPermission } from "../../../providers/quay/repository-permission";
import { RobotAccount } from "../../../providers/quay/robot";
import { Team } from "../../../providers/quay/team";
import { User } from "../../../providers/quay/user";

export default function program() {
  const config = new pulumi.Config("test");
  const connection = { endpoint: config.require("endpoint"), token: config.requireSecret("token") };
  const prefix = config.require("prefix");
  const description = config.get("description") ?? "release payloads";

  const org = new Organization("org", { connection, name: `${prefix}rel` });
  const cacheOrg = new Organization("cache-org", { connection, name: `${prefix}cache` });
  const robot = new RobotAccount("robot", { connection, namespace: org.name, name: "ocp_mirror", description: "pushes" });
  const repo = new Repository("repo", { connection, namespace: org.name, name: "openshift/release-images", description });
  const team = new Team("team", { connection, organization: org.name, name: "mirror-creators", role: "creator", members: [robot.fullName] });
  const user = new User("user", { connection, username: `${prefix}pull`, password: config.requireSecret("userPassword") });
  const perm = new RepositoryPermission("perm", { connection, namespace: repo.namespace, repository: repo.name, kind: "robot", name: robot.fullName, role: "write" });
  const proto = new DefaultPermission("proto", { connection, organization: org.name, delegateKind: "user", delegateName: user.username, role: "read" });
  const grant = new NamespaceReadGrant("grant", { connection, granteeKind: "user", grantee: user.username, namespaces: [org.name], role: "read" }, { dependsOn: [repo, proto] });
  const cache = new ProxyCache("cache", { connection, organization: cacheOrg.name, upstreamRegistry: "192.0.2.10", expirationSeconds: 86400 });
  const token = new ApiToken("api-token", { connection, organization: org.name, name: "pulumi-e2e", expiresInSeconds: 86400 * 30, rotateBefore: 86400 });

  void team;
  void perm;
  void grant;
  void cache;
  return {
    robotToken: robot.token,
    apiToken: token.token,
    userName: user.username,
  };
}
