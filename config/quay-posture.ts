// The security posture QuayHost pins in config.yaml (components/quay-host/README.md, "Security posture").
// Plain data, no Pulumi: the renderer (components/quay-host/render.ts), the argument schema
// (config/quay-host.ts) and the tests share it.

export interface PostureKey {
  /** The value config.yaml gets unless extraConfig relaxes it and postureOverrides names the key. */
  readonly value: boolean;
  /** Quay's own default (config.py, HEAD ffba0c70). */
  readonly quayDefault: boolean;
  /** Why the component pins it. */
  readonly why: string;
}

/**
 * Keys extraConfig may relax, but only on purpose: setting one to anything but `value` needs the key in
 * `postureOverrides` too (config/quay-host.ts refuses the overlay otherwise).
 */
export const SECURITY_POSTURE: Readonly<Record<string, PostureKey>> = {
  FEATURE_USER_CREATION: {
    value: false,
    quayDefault: true,
    why: "anyone who reaches Quay could sign up, and with CREATE_NAMESPACE_ON_PUSH push into a namespace of their own; users are created by the superuser API (ClusterPullUser), which ignores this flag",
  },
  FEATURE_ANONYMOUS_ACCESS: {
    value: false,
    quayDefault: true,
    why: "no anonymous API reads or pulls: mirror content is pulled with the cluster-pull user's credential, and a repository made public by mistake is not readable by everyone",
  },
  CREATE_PRIVATE_REPO_ON_PUSH: {
    value: true,
    quayDefault: true,
    why: "a repository created by a push is private (Quay's default, pinned so an overlay cannot flip it silently)",
  },
};
