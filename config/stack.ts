// Stack configuration (Pulumi.<stack>.yaml, namespace `quay-mirror`), validated before anything is declared.
import { z } from "zod";
import { ConfigError, issuesFromZod } from "./errors";
import { RESTORE_FROM_RE } from "../components/quay-backups/render";

const hostname = z
  .string()
  .regex(/^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(?::\d{1,5})?$/, "must be a hostname (optionally :port), without scheme or path — fix: e.g. quay.example.com");

const registryHost = z
  .string()
  .regex(/^[a-z0-9][a-z0-9.-]*[a-z0-9](?::\d{1,5})?(?:\/[a-z0-9._-]+)*$/, "must be a registry host such as quay.io or registry.redhat.io (no scheme) — fix: write only the host (and path), in lowercase");

const orgName = z
  .string()
  .max(255, "is longer than 255 characters, the most Quay allows for an organization name (util/validation.py MAX_USERNAME_LENGTH) — fix: use a shorter name")
  .regex(/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/, "must be a Quay organization name — fix: lowercase letters and digits separated by single '.', '_' or '-'");

export const stackConfigSchema = z
  .object({
    /** `full`: provision the host, then govern Quay. `existing`: govern a Quay that already runs. */
    mode: z.enum(["full", "existing"]).default("full"),
    /** The name clusters pull from (behind the TLS-terminating proxy). */
    registryHostname: hostname,
    /** Quay API base URL in existing mode (e.g. https://quay.example.com). In full mode it comes from the host. */
    apiUrl: z
      .string()
      .refine((v) => /^[a-z][a-z0-9+.-]*:\/\//i.test(v), { message: "has no scheme — fix: write the base URL with its scheme, e.g. https://quay.example.com", abort: true })
      .regex(/^https?:\/\/[^\s/]+\/?$/, "must be an http(s) base URL without a path — fix: e.g. https://quay.example.com (the program adds /api/v1 itself)")
      .optional(),
    /** The registry model, relative to the project directory. */
    modelFile: z.string().min(1).default("data/quay/bootstrap-model.json"),
    /** oc-mirror dry-run mappings whose destination repositories are declared before the real push. */
    mirrorMappings: z
      .array(z.object({ file: z.string().min(1), organization: orgName }).strict())
      .default([]),
    /** Pull-through caches: one organization per upstream (`cache_<host with dots as underscores>`). */
    proxyCaches: z
      .object({
        upstreams: z.array(registryHost).min(1),
        /** A pull secret (dockerconfigjson) holding upstream credentials; upstreams it lacks are anonymous. */
        pullSecretFile: z.string().min(1).optional(),
        expirationSeconds: z.number().int().positive("a proxy cache needs an expiration").default(86400),
        insecure: z.boolean().default(false),
      })
      .strict()
      .optional(),
    /** An existing pull secret file (e.g. Red Hat's) merged into the `pullSecret` output. */
    pullSecretMergeFile: z.string().min(1).optional(),
    /** oc-mirror's `idms-oc-mirror.yaml` (an ImageDigestMirrorSet): its mirrors become `imageDigestSources` of the `installConfig` output. */
    idmsFile: z.string().min(1).optional(),
    /** PEM of the CA that signed the registry's certificate: the `additionalTrustBundle` output, and the `installConfig` output's. */
    additionalTrustBundleFile: z.string().min(1).optional(),
    /** Full mode: the host to provision (validated by the QuayHost schema). */
    host: z.record(z.string(), z.unknown()).optional(),
    /** Adopt objects that already exist (a registry seeded by the old scripts). */
    adoptExisting: z.boolean().default(false),
    /**
     * MinIO's side of the registry as resources (components/object-storage.ts, docs/storage.md): the blob and
     * backup buckets, their users and policies. Validated by the ObjectStorage schema; its admin secret key is
     * `quay-mirror:minioAdminSecretKey`. In full mode Quay's storage user and key come from it.
     */
    objectStorage: z.record(z.string(), z.unknown()).optional(),
    /**
     * Encrypted database backups to MinIO and the restore proof on the host (components/quay-backups,
     * docs/backups.md). Full mode with objectStorage only. Validated by the QuayBackups schema.
     */
    backups: z.record(z.string(), z.unknown()).optional(),
    /**
     * Full mode: HAProxy on its own host in front of Quay, TLS for registryHostname (components/load-balancer).
     * Off when unset. Validated by the LoadBalancer schema. TLS: `certificateFile` with the secret
     * `quay-mirror:tlsPrivateKey`, or without it (or `certificate: generate`) a CA and certificate the stack generates.
     */
    loadBalancer: z.record(z.string(), z.unknown()).optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.mode === "existing" && !c.apiUrl) {
      ctx.addIssue({ code: "custom", path: ["apiUrl"], message: "existing mode needs the Quay API URL (quay-mirror:apiUrl)" });
    }
    if (c.mode === "full" && !c.host) {
      ctx.addIssue({ code: "custom", path: ["host"], message: "full mode needs the host to provision (quay-mirror:host)" });
    }
    if (c.backups && (c.mode !== "full" || !c.objectStorage)) {
      ctx.addIssue({
        code: "custom",
        path: ["backups"],
        message: "backups run on the provisioned host and upload with the users objectStorage creates — fix: use them in full mode together with quay-mirror:objectStorage, or remove quay-mirror:backups",
      });
    }
    // Rebuild from backup (docs/backups.md "Rebuild from backup"): host.restoreFrom restores a backup QuayBackups made.
    const restore = c.host ?? {};
    if (restore.restoreFrom !== undefined) {
      const r = RESTORE_FROM_RE.test(String(restore.restoreFrom)) && typeof restore.restoreFrom === "string";
      if (!r) {
        ctx.addIssue({
          code: "custom",
          path: ["host", "restoreFrom"],
          message: 'must be "latest" or a backup\'s UTC timestamp such as 20261207T031500Z — fix: use latest, or the folder name of a backup under <backup bucket>/<prefix>/ (mc ls)',
        });
      }
      if (!c.backups || !c.objectStorage || c.mode !== "full") {
        ctx.addIssue({
          code: "custom",
          path: ["host", "restoreFrom"],
          message:
            "restores a backup QuayBackups made, but this stack has no backups (quay-mirror:backups with quay-mirror:objectStorage, full mode) to read it with — fix: configure quay-mirror:backups and quay-mirror:objectStorage as in the stack that made the backup (same passphrase), or remove host.restoreFrom",
        });
      }
    }
    if (restore.restoreOverwrite !== undefined) {
      if (typeof restore.restoreOverwrite !== "boolean") {
        ctx.addIssue({ code: "custom", path: ["host", "restoreOverwrite"], message: "must be true or false — fix: true lets the restore replace a database that holds tables (kept, renamed); leave it out otherwise" });
      } else if (restore.restoreOverwrite && restore.restoreFrom === undefined) {
        ctx.addIssue({ code: "custom", path: ["host", "restoreOverwrite"], message: "is set without host.restoreFrom — fix: name the backup to restore (host.restoreFrom), or remove host.restoreOverwrite" });
      }
    }
    if (c.loadBalancer && c.mode !== "full") {
      ctx.addIssue({ code: "custom", path: ["loadBalancer"], message: "the load balancer fronts the Quay host the stack provisions — fix: use it in full mode, or remove quay-mirror:loadBalancer" });
    }
    // Each upstream is one cache organization: listed twice, the engine would fail with "Duplicate resource URN".
    const caches = new Map<string, number>();
    c.proxyCaches?.upstreams.forEach((u, i) => {
      const org = cacheOrganizationName(u.toLowerCase());
      const first = caches.get(org);
      if (first !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["proxyCaches", "upstreams", i],
          message: `upstream "${u}" is listed twice (first at upstreams[${first}]; both would be cache organization ${org}) — fix: remove one of the two`,
        });
      } else caches.set(org, i);
    });
    // One mapping may feed several organizations, but each pair only once.
    const seen = new Set<string>();
    c.mirrorMappings.forEach((m, i) => {
      const key = `${m.file} ${m.organization}`;
      if (seen.has(key)) ctx.addIssue({ code: "custom", path: ["mirrorMappings", i], message: `mapping ${m.file} for ${m.organization} is listed twice — fix: remove one of the two` });
      seen.add(key);
    });
  });

export type StackConfig = z.infer<typeof stackConfigSchema>;

/** Validates the raw `quay-mirror:*` values; the error names the stack file and each key's path. */
export function parseStackConfig(raw: Record<string, unknown>, stackFile: string): StackConfig {
  const parsed = stackConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      stackFile,
      issuesFromZod(parsed.error).map((i) => ({ ...i, path: [`quay-mirror:${String(i.path[0] ?? "")}`, ...i.path.slice(1)] })),
    );
  }
  return parsed.data;
}

/** The upstream's cache organization, e.g. `registry.redhat.io` → `cache_registry_redhat_io`. */
export function cacheOrganizationName(upstream: string): string {
  return `cache_${upstream.replace(/[.:/]/g, "_")}`;
}
