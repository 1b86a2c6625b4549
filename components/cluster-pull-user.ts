// ClusterPullUser: the one credential a cluster's pullSecret carries. A normal Quay user (robots are
// namespace-scoped and cannot span both mirror namespaces) with read on every repository of the mirror
// namespaces — now (NamespaceReadGrant) and later (a default permission per namespace, which Quay applies
// when oc-mirror's push creates a repository), so a fresh post-mirror node pull is never unauthorized.
import * as pulumi from "@pulumi/pulumi";
import { QuayConnectionArgs } from "../providers/quay/common";
import { DefaultPermission } from "../providers/quay/default-permission";
import { NamespaceReadGrant } from "../providers/quay/namespace-grant";
import { RandomSecret } from "../providers/local/random-secret";
import { User } from "../providers/quay/user";

export interface ClusterPullUserArgs {
  connection: pulumi.Input<QuayConnectionArgs>;
  /** Username, e.g. `ocp_cluster_pull`. */
  username: string;
  /** Email (only needed when Quay's FEATURE_MAILING is on). */
  email?: string;
  /** The mirror namespaces (organizations) the cluster pulls from. */
  namespaces: pulumi.Input<string>[];
  /** Take over a user that already exists (its password is reset to the generated one). */
  adopt?: boolean;
}

export class ClusterPullUser extends pulumi.ComponentResource {
  readonly username: pulumi.Output<string>;
  /** The generated password (secret). */
  readonly password: pulumi.Output<string>;
  /** Default permissions (one per namespace); repositories created by the program should depend on them. */
  readonly defaultPermissions: DefaultPermission[];

  constructor(name: string, args: ClusterPullUserArgs, opts?: pulumi.ComponentResourceOptions) {
    super("quay-mirror:registry:ClusterPullUser", name, {}, opts);
    const child = { parent: this };

    // Generated once and kept in state (encrypted); never printed. Alphanumeric: it travels in
    // base64 `user:password` pairs and shell-free clients alike.
    const password = new RandomSecret(`${name}-password`, { length: 32 }, child);
    const user = new User(
      `${name}-user`,
      { connection: args.connection, username: args.username, email: args.email, password: password.result, adopt: args.adopt },
      child,
    );

    this.defaultPermissions = args.namespaces.map(
      (ns, i) =>
        new DefaultPermission(
          `${name}-default-${i}`,
          { connection: args.connection, organization: ns, delegateKind: "user", delegateName: user.username, role: "read", adopt: args.adopt },
          // Deleting the user takes its default permissions and repository permissions with it.
          { ...child, deletedWith: user },
        ),
    );
    new NamespaceReadGrant(
      `${name}-grant`,
      { connection: args.connection, granteeKind: "user", grantee: user.username, namespaces: args.namespaces, role: "read" },
      { ...child, dependsOn: this.defaultPermissions, deletedWith: user },
    );

    this.username = user.username;
    this.password = pulumi.secret(password.result);
    this.registerOutputs({ username: this.username, password: this.password });
  }
}
