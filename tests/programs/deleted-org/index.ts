// Two organizations with one of each Quay object, for tests/e2e/deleted-organization.test.ts (issue 15): an
// application organization (robot, team, repository, repository permission, default permission, namespace
// grant) and a proxy-cache organization, against the endpoint and token in stack config (`test:endpoint`,
// secret `test:token`, `test:prefix`).
import * as pulumi from "@pulumi/pulumi";
import { DefaultPermission } from "../../../providers/quay/default-permission";
import { NamespaceReadGrant } from "../../../providers/quay/namespace-grant";
import { Organization } from "../../../providers/quay/organization";
import { ProxyCache } from "../../../providers/quay/proxy-cache";
import { Repository } from "../../../providers/quay/repository";
import { RepositoryPermission } from "../../../providers/quay/repository-permission";
import { RobotAccount } from "../../../providers/quay/robot";
import { Team } from "../../../providers/quay/team";

export default function program() {
  const config = new pulumi.Config("test");
  const prefix = config.require("prefix");
  const connection = { endpoint: config.require("endpoint"), token: config.requireSecret("token") };
  const apps = new Organization("apps", { connection, name: `${prefix}apps` });
  const robot = new RobotAccount("deployer", { connection, namespace: apps.name, name: "deployer", description: "CI deploys" });
  new Team("creators", { connection, organization: apps.name, name: "creators", role: "creator", members: [robot.fullName] });
  const proto = new DefaultPermission("proto", { connection, organization: apps.name, delegateKind: "robot", delegateName: robot.fullName, role: "write" });
  const repo = new Repository("release", { connection, namespace: apps.name, name: "openshift/release", description: "" }, { dependsOn: [proto] });
  new RepositoryPermission("release-deployer", { connection, namespace: apps.name, repository: repo.name, kind: "robot", name: robot.fullName, role: "write" });
  new NamespaceReadGrant("grant", { connection, granteeKind: "robot", grantee: robot.fullName, namespaces: [apps.name], role: "write" }, { dependsOn: [proto, repo] });
  const cache = new Organization("cache", { connection, name: `${prefix}cache` });
  new ProxyCache("cache-config", { connection, organization: cache.name, upstreamRegistry: "registry.example.org/library" });
  return { apps: apps.name, cache: cache.name };
}
