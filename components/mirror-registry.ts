// MirrorRegistry: everything inside Quay that the mirror needs — the model, the cluster-pull user, the
// pre-seeded mirror repositories and the proxy caches — and the credentials clusters and oc-mirror consume.
import * as pulumi from "@pulumi/pulumi";
import { ProgramInputs } from "../config/program";
import { DockerConfig, buildDockerConfig } from "../config/pull-secret";
import { joinRobotName } from "../config/model";
import { QuayConnectionArgs } from "../providers/quay/common";
import type { ClusterPullUser } from "./cluster-pull-user";
import { MirrorPreseed } from "./mirror-preseed";
import { ProxyCacheMirror, ProxyCacheOrgs } from "./proxy-cache-orgs";
import { RegistryModel, RobotCredential } from "./registry-model";

export interface MirrorRegistryArgs {
  /** Validated program inputs (config/program.ts). */
  inputs: ProgramInputs;
  /** Quay's API endpoint and a long-lived token (secret). */
  connection: pulumi.Input<QuayConnectionArgs>;
}

/** `{"auths": {...}}` as the JSON string a pull secret file holds. */
export function dockerConfigJson(credentials: Record<string, RobotCredential>, base?: DockerConfig): string {
  return JSON.stringify(buildDockerConfig(credentials, base));
}

export class MirrorRegistry extends pulumi.ComponentResource {
  readonly model: RegistryModel;
  readonly clusterPullUser?: ClusterPullUser;
  /** dockerconfigjson for install-config.yaml `pullSecret` (secret). */
  readonly pullSecret: pulumi.Output<string>;
  /** Per mirror organization: the auth.json oc-mirror pushes with (secret). */
  readonly mirrorCredentials: pulumi.Output<Record<string, string>>;
  /** Every robot's username and token (secret). */
  readonly robotCredentials: pulumi.Output<Record<string, RobotCredential>>;
  /** Pull-through caches: where each upstream is mirrored. */
  readonly proxyCacheMirrors: ProxyCacheMirror[];

  constructor(name: string, args: MirrorRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
    super("quay-mirror:index:MirrorRegistry", name, {}, opts);
    const { inputs, connection } = args;
    const { model, config } = inputs;
    const adopt = config.adoptExisting;
    const child = { parent: this };
    const host = config.registryHostname;

    this.model = new RegistryModel(`${name}-model`, { connection, model, adopt }, child);
    this.clusterPullUser = this.model.clusterPullUser;

    const preseed = new MirrorPreseed(
      `${name}-preseed`,
      {
        connection,
        repositories: inputs.mirrorRepositories,
        // Quay applies an organization's default permissions to repositories created after them.
        afterByOrganization: this.model.defaultPermissions,
      },
      child,
    );
    void preseed;

    const caches = config.proxyCaches
      ? new ProxyCacheOrgs(
          `${name}-proxy-cache`,
          {
            connection,
            registryHostname: host,
            upstreams: config.proxyCaches.upstreams,
            pullSecret: inputs.proxyPullSecret,
            expirationSeconds: config.proxyCaches.expirationSeconds,
            insecure: config.proxyCaches.insecure,
            adopt,
          },
          child,
        )
      : undefined;
    this.proxyCacheMirrors = caches?.mirrors ?? [];

    this.pullSecret = this.clusterPullUser
      ? pulumi.secret(
          pulumi
            .all([this.clusterPullUser.username, this.clusterPullUser.password])
            .apply(([username, password]) => dockerConfigJson({ [host]: { username, password } }, inputs.pullSecretBase)),
        )
      : pulumi.secret(dockerConfigJson({}, inputs.pullSecretBase));

    this.robotCredentials = this.model.robotCredentials;
    const mirrorRobots = model.robots.filter((r) => r.mirror);
    this.mirrorCredentials = pulumi.secret(
      this.model.robotCredentials.apply((creds) =>
        Object.fromEntries(mirrorRobots.map((r) => [r.organization, dockerConfigJson({ [host]: creds[joinRobotName(r)] })])),
      ),
    );

    this.registerOutputs({
      pullSecret: this.pullSecret,
      mirrorCredentials: this.mirrorCredentials,
      robotCredentials: this.robotCredentials,
      proxyCacheMirrors: this.proxyCacheMirrors,
    });
  }
}
