// RegistryModel: declares a model's organizations, repositories, robots, teams, permissions and default
// permissions as Quay resources. Resource names derive from the model's names, so renaming one entry is a
// rename of that entry only.
import * as pulumi from "@pulumi/pulumi";
import { RegistryModelSpec, granteeOf, joinRobotName, repositoryFullName } from "../config/model";
import { QuayConnectionArgs } from "../providers/quay/common";
import { DefaultPermission } from "../providers/quay/default-permission";
import { NamespaceReadGrant } from "../providers/quay/namespace-grant";
import { Organization } from "../providers/quay/organization";
import { Repository } from "../providers/quay/repository";
import { RepositoryPermission } from "../providers/quay/repository-permission";
import { RobotAccount } from "../providers/quay/robot";
import { Team } from "../providers/quay/team";
import { ClusterPullUser } from "./cluster-pull-user";

export interface RegistryModelArgs {
  /** Where Quay is and the (secret) token to use. */
  connection: pulumi.Input<QuayConnectionArgs>;
  /** A parsed, cross-checked model (config/model.ts). */
  model: RegistryModelSpec;
  /** Take over objects that already exist (a registry seeded by the old scripts). */
  adopt?: boolean;
}

export interface RobotCredential {
  username: string;
  password: string;
}

export class RegistryModel extends pulumi.ComponentResource {
  /** Organizations by name. */
  readonly organizations: Record<string, Organization>;
  /** Repositories by full name (`org/name`). */
  readonly repositories: Record<string, Repository>;
  /** Robots by full name (`org+name`). */
  readonly robots: Record<string, RobotAccount>;
  /** Default permissions per organization: repositories created in it depend on them. */
  readonly defaultPermissions: Record<string, DefaultPermission[]>;
  /** Robot credentials by full name (secret). */
  readonly robotCredentials: pulumi.Output<Record<string, RobotCredential>>;
  /** The cluster-pull user, when the model declares one. */
  readonly clusterPullUser?: ClusterPullUser;

  constructor(name: string, args: RegistryModelArgs, opts?: pulumi.ComponentResourceOptions) {
    super("quay-mirror:registry:RegistryModel", name, {}, opts);
    const { model, connection } = args;
    const adopt = args.adopt ?? false;
    const child = { parent: this };

    this.organizations = {};
    for (const org of model.organizations) {
      this.organizations[org.name] = new Organization(`${name}-org-${org.name}`, { connection, name: org.name, email: org.email, adopt }, child);
    }
    const orgName = (org: string) => this.organizations[org].name;

    this.robots = {};
    for (const robot of model.robots) {
      this.robots[joinRobotName(robot)] = new RobotAccount(
        `${name}-robot-${joinRobotName(robot)}`,
        { connection, namespace: orgName(robot.organization), name: robot.name, description: robot.description, rotateToken: robot.rotateToken, adopt },
        child,
      );
    }

    const teams: Record<string, Team> = {};
    for (const team of model.teams) {
      const members = team.members.map((m) => (this.robots[m] ? this.robots[m].fullName : pulumi.output(m)));
      teams[`${team.organization}/${team.name}`] = new Team(
        `${name}-team-${team.organization}-${team.name}`,
        { connection, organization: orgName(team.organization), name: team.name, role: team.role, description: team.description, members, adopt },
        child,
      );
    }

    // Namespace permissions: a default permission makes every repository created later carry the role
    // (Quay applies prototypes when a user creates a repository, including oc-mirror's pushes), and a
    // grant covers the repositories that existed before — for robots, users and teams.
    this.defaultPermissions = {};
    model.namespacePermissions.forEach((p) => {
      const g = granteeOf(p)!;
      const key = `${p.organization}-${g.kind}-${g.name}`;
      const delegate = g.kind === "robot" ? this.robots[g.name].fullName : pulumi.output(g.name);
      const dependsOn = g.kind === "team" ? [teams[`${p.organization}/${g.name}`]] : [];
      // Quay deletes a robot's or a team's permissions and default permissions with it: no revoke of its own.
      const holder = g.kind === "robot" ? this.robots[g.name] : g.kind === "team" ? teams[`${p.organization}/${g.name}`] : undefined;
      const prototype = new DefaultPermission(
        `${name}-default-${key}`,
        { connection, organization: orgName(p.organization), delegateKind: g.kind, delegateName: delegate, role: p.role, adopt },
        { ...child, dependsOn, deletedWith: holder },
      );
      (this.defaultPermissions[p.organization] ??= []).push(prototype);
      // Robots, users and teams alike: the role on every repository that exists (and, through refresh and
      // up, on any a later push creates without it). A team is granted with Quay's team permission API.
      new NamespaceReadGrant(
        `${name}-grant-${key}`,
        { connection, granteeKind: g.kind, grantee: delegate, namespaces: [orgName(p.organization)], role: p.role },
        { ...child, dependsOn: [prototype], deletedWith: holder },
      );
    });

    // The cluster-pull user's default permissions must exist before repositories are created, so Quay
    // applies them to the program's own repositories as well as to oc-mirror's.
    if (model.clusterPullUser) {
      const pull = model.clusterPullUser;
      this.clusterPullUser = new ClusterPullUser(
        `${name}-cluster-pull`,
        { connection, username: pull.username, email: pull.email, namespaces: pull.namespaces.map(orgName), adopt },
        child,
      );
      pull.namespaces.forEach((ns, i) => (this.defaultPermissions[ns] ??= []).push(this.clusterPullUser!.defaultPermissions[i]));
    }

    this.repositories = {};
    for (const repo of model.repositories) {
      this.repositories[repositoryFullName(repo)] = new Repository(
        `${name}-repo-${repositoryFullName(repo)}`,
        { connection, namespace: orgName(repo.organization), name: repo.name, description: repo.description, visibility: repo.visibility, adopt },
        // Created after the namespace's default permissions, so Quay applies them to it.
        { ...child, dependsOn: this.defaultPermissions[repo.organization] ?? [] },
      );
    }

    model.repositoryPermissions.forEach((p) => {
      const g = granteeOf(p)!;
      const repo = this.repositories[p.repository];
      const grantee = g.kind === "robot" ? this.robots[g.name].fullName : pulumi.output(g.name);
      new RepositoryPermission(
        `${name}-perm-${p.repository}-${g.kind}-${g.name}`,
        { connection, namespace: repo.namespace, repository: repo.name, kind: g.kind, name: grantee, role: p.role },
        // Deleting the repository deletes its permissions: no revoke before it.
        { ...child, dependsOn: g.kind === "team" ? [teams[`${p.repository.split("/")[0]}/${g.name}`]] : [], deletedWith: repo },
      );
    });

    this.robotCredentials = pulumi.secret(
      pulumi
        .all(Object.values(this.robots).map((r) => pulumi.all([r.fullName, r.token])))
        .apply((pairs) => Object.fromEntries(pairs.map(([username, password]) => [username, { username, password }]))),
    );

    this.registerOutputs({ robotCredentials: this.robotCredentials });
  }
}
