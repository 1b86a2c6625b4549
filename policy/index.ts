// quay-mirror's CrossGuard policy pack: six mandatory guardrails (docs/policy.md).
//   npx tsc -p . && pulumi preview --policy-pack policy [--policy-pack-config <file.json>]
// The rules are pure functions in rules.ts; this file only wires them into @pulumi/policy.
import { PolicyConfigSchema, PolicyPack, PolicyResource, ReportViolation, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import {
  DEFAULTS,
  Finding,
  Settings,
  View,
  blobBucketLifecycle,
  clusterPullUserBeyondRead,
  mirrorRepositoryPublic,
  mirrorRobotAdmin,
  proxyCacheExpiration,
  settingsFrom,
  sshHostKeyPinned,
  teamGrants,
} from "./rules";

type Rule = (r: View, s: Settings) => Finding[];

const schema = (keys: (keyof Settings)[]): PolicyConfigSchema => ({
  properties: Object.fromEntries(
    keys.map((k) => [
      k,
      Array.isArray(DEFAULTS[k])
        ? { type: "array", items: { type: "string" }, default: DEFAULTS[k] }
        : typeof DEFAULTS[k] === "boolean"
          ? { type: "boolean", default: DEFAULTS[k] }
          : { type: "string", minLength: 1, default: DEFAULTS[k] },
    ]),
  ),
});

/**
 * One policy = one rule, run per resource (what is known before the engine acts) and over the whole
 * stack (values a preview only knows through the resources they come from; reported there only).
 */
function policy(
  name: string,
  description: string,
  keys: (keyof Settings)[],
  rule: Rule,
  stackExtra?: (resources: PolicyResource[], s: Settings, report: ReportViolation) => void,
): ResourceValidationPolicy & StackValidationPolicy {
  return {
    name,
    description,
    enforcementLevel: "mandatory",
    configSchema: schema(keys),
    validateResource: (args, report) => {
      const s = settingsFrom(args.getConfig<Record<string, unknown>>());
      for (const f of rule(new View(args.type, args.urn, args.props), s)) if (!f.derived) report(f.message);
    },
    validateStack: (args, report) => {
      const s = settingsFrom(args.getConfig<Record<string, unknown>>());
      for (const r of args.resources) {
        for (const f of rule(new View(r.type, r.urn, r.props, r.propertyDependencies), s)) if (f.derived) report(f.message, r.urn);
      }
      stackExtra?.(args.resources, s, report);
    },
  };
}

new PolicyPack("quay-mirror-guardrails", {
  enforcementLevel: "mandatory",
  policies: [
    policy(
      "mirror-robot-no-admin",
      "Mirror robots (every robot of a mirror namespace, and mirrorRobots) never get admin: not by a repository or default permission, a namespace grant, nor an admin team; teams of mirror namespaces are never admin.",
      ["mirrorNamespaces", "mirrorRobots"],
      mirrorRobotAdmin,
      (resources, s, report) => teamGrants(resources, s).filter((f) => f.rule === "mirror").forEach((f) => report(f.message, f.urn)),
    ),
    policy(
      "mirror-repository-private",
      "Repositories (Repository and RepositorySet) in a mirror namespace are private.",
      ["mirrorNamespaces"],
      mirrorRepositoryPublic,
    ),
    policy(
      "blob-bucket-no-lifecycle",
      "The bucket that holds Quay's blobs (blobBucket) has no lifecycle or expiry rule.",
      ["blobBucket"],
      blobBucketLifecycle,
    ),
    policy(
      "proxy-cache-expiration",
      "Every proxy cache lets cached tags expire (expirationSeconds > 0).",
      [],
      proxyCacheExpiration,
    ),
    policy(
      "cluster-pull-user-read-only",
      "The cluster-pull user (clusterPullUser) gets read and nothing more: no write or admin permission, grant or default permission, and no team above member or given more than read.",
      ["clusterPullUser"],
      clusterPullUserBeyondRead,
      (resources, s, report) => teamGrants(resources, s).filter((f) => f.rule === "pull").forEach((f) => report(f.message, f.urn)),
    ),
    policy(
      "ssh-host-key-pinned",
      "Every SSH connection of a command:remote:* resource (Command, CopyToRemote), and its proxy (bastion), pins the host's key (hostKey); \"trust-on-first-use\" only with allowTrustOnFirstUse.",
      ["allowTrustOnFirstUse"],
      sshHostKeyPinned,
    ),
  ],
});
