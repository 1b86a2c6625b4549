// What install-config.yaml needs from the mirror: the pull secret, the CA the cluster must trust, and the
// mirrors of oc-mirror's ImageDigestMirrorSet as `imageDigestSources`. Pure: read, validate, convert, render.
// No @pulumi/pulumi here; components/program.ts wraps the result in a secret output.
//
// The field names follow openshift/installer pkg/types/installconfig.go (`imageDigestSources[]` of
// `{source, mirrors}`, `additionalTrustBundle`, `pullSecret`) and config.openshift.io/v1 ImageDigestMirrorSet
// (`spec.imageDigestMirrors[]` of `{source, mirrors, mirrorSourcePolicy}`).
import * as crypto from "crypto";
import * as YAML from "yaml";
import { z } from "zod";
import { ConfigError, ConfigIssue, issuesFromZod } from "./errors";
import { lineColumn, readTextFile } from "./text-file";

/** One entry of install-config's `imageDigestSources`. */
export interface ImageDigestSource {
  source: string;
  mirrors: string[];
}

/** A repository reference as IDMS and install-config take it: host[:port][/path], no tag, no digest, no scheme. */
const repository = z
  .string()
  .min(1)
  .regex(/^[A-Za-z0-9][A-Za-z0-9.-]*(?::\d{1,5})?(?:\/[A-Za-z0-9._-]+)*$/, "must be a repository such as quay.io/openshift-release-dev/ocp-release (no scheme, tag or digest)");

const imageDigestMirror = z
  .object({
    source: repository,
    mirrors: z.array(repository).min(1, "an entry without mirrors mirrors nothing"),
    /** AllowContactingSource | NeverContactSource: install-config has no such field (see below). */
    mirrorSourcePolicy: z.enum(["AllowContactingSource", "NeverContactSource"]).optional(),
  })
  .passthrough();

/** config.openshift.io/v1 ImageDigestMirrorSet, as oc-mirror writes it (working-dir/cluster-resources/idms-oc-mirror.yaml). */
export const imageDigestMirrorSetSchema = z
  .object({
    apiVersion: z.literal("config.openshift.io/v1"),
    kind: z.literal("ImageDigestMirrorSet"),
    metadata: z.object({ name: z.string().optional() }).passthrough().optional(),
    spec: z.object({ imageDigestMirrors: z.array(imageDigestMirror).min(1, "lists no mirrors") }).passthrough(),
  })
  .passthrough();

const IDMS_FIX = "give the idms-oc-mirror.yaml oc-mirror wrote (working-dir/cluster-resources/), unchanged";

/**
 * The ImageDigestMirrorSets of an IDMS file (one YAML document each; oc-mirror writes one, a `---` list of
 * several is accepted), converted to `imageDigestSources`: the same source → mirrors pairs, in order, the
 * entries of one source merged (its mirrors in first-seen order, without repeats). `mirrorSourcePolicy` has no
 * counterpart in install-config and is dropped: after installation oc-mirror's IDMS itself is applied.
 * Errors name the file and the line or the JSON path (`$[1].spec…` when the file holds several documents).
 */
export function parseImageDigestMirrorSets(text: string, file: string): ImageDigestSource[] {
  const docs = YAML.parseAllDocuments(text, { prettyErrors: false });
  const list = Array.isArray(docs) ? docs : [docs];
  const syntax: ConfigIssue[] = [];
  for (const doc of list) {
    for (const err of doc.errors) {
      const { line, column } = lineColumn(text, err.pos[0]);
      syntax.push({ path: [`line ${line} column ${column}`], message: `the ImageDigestMirrorSet file is not valid YAML: ${err.message.split("\n")[0]}`, fix: IDMS_FIX });
    }
  }
  if (syntax.length) throw new ConfigError(file, syntax);
  const values = list.map((d) => d.toJS() as unknown).filter((v) => v !== null && v !== undefined);
  if (values.length === 0) throw new ConfigError(file, [{ path: [], message: "the ImageDigestMirrorSet file is empty", fix: IDMS_FIX }]);
  const issues: ConfigIssue[] = [];
  const sets: z.infer<typeof imageDigestMirrorSetSchema>[] = [];
  values.forEach((v, i) => {
    const parsed = imageDigestMirrorSetSchema.safeParse(v);
    if (!parsed.success) {
      for (const issue of issuesFromZod(parsed.error)) issues.push({ ...issue, path: values.length > 1 ? [i, ...issue.path] : issue.path, fix: issue.fix ?? IDMS_FIX });
    } else sets.push(parsed.data);
  });
  if (issues.length) throw new ConfigError(file, issues);
  const bySource = new Map<string, string[]>();
  for (const set of sets) {
    for (const m of set.spec.imageDigestMirrors) {
      const mirrors = bySource.get(m.source) ?? [];
      for (const mirror of m.mirrors) if (!mirrors.includes(mirror)) mirrors.push(mirror);
      bySource.set(m.source, mirrors);
    }
  }
  return [...bySource].map(([source, mirrors]) => ({ source, mirrors }));
}

/** Reads and converts an IDMS file (a missing or unreadable file is an error naming it). */
export function loadImageDigestSources(file: string): ImageDigestSource[] {
  return parseImageDigestMirrorSets(readTextFile(file, "ImageDigestMirrorSet file (oc-mirror's idms-oc-mirror.yaml)", "check the path in quay-mirror:idmsFile"), file);
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----\r?\n[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * A trust bundle: one or more PEM certificates, each one that parses, and nothing else that looks like PEM (a
 * private key pasted in by mistake would end up in every cluster's install-config). Returned normalised: the
 * certificates only, each ending in a newline.
 */
export function parseTrustBundle(text: string, file: string): string {
  const fix = "give the PEM file of the CA that signed the registry's (HAProxy's) certificate";
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
    throw new ConfigError(file, [{ path: [], message: "the trust bundle holds a private key; it must hold certificates only", fix: `${fix} — and keep the key out of it` }]);
  }
  const blocks = text.replace(/\r\n/g, "\n").match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw new ConfigError(file, [{ path: [], message: "the trust bundle holds no PEM certificate (-----BEGIN CERTIFICATE-----)", fix }]);
  const issues: ConfigIssue[] = [];
  blocks.forEach((pem, i) => {
    try {
      new crypto.X509Certificate(pem);
    } catch (e) {
      issues.push({ path: [`certificate ${i + 1}`], message: `is not a valid certificate: ${(e as Error).message}`, fix });
    }
  });
  if (issues.length) throw new ConfigError(file, issues);
  const leftover = text.replace(/\r\n/g, "\n").replace(PEM_CERT, "");
  if (/-----BEGIN /.test(leftover)) throw new ConfigError(file, [{ path: [], message: "the trust bundle holds a PEM block that is not a certificate", fix }]);
  return blocks.map((b) => `${b.trim()}\n`).join("");
}

/** Reads a trust bundle file (see parseTrustBundle). */
export function loadTrustBundle(file: string): string {
  return parseTrustBundle(readTextFile(file, "trust bundle", "check the path in quay-mirror:additionalTrustBundleFile"), file);
}

export interface InstallConfigFragment {
  /** dockerconfigjson, as one line of JSON. */
  pullSecret: string;
  additionalTrustBundle?: string;
  imageDigestSources?: ImageDigestSource[];
}

/**
 * The fragment to merge into install-config.yaml, rendered by the yaml package (never by hand): `pullSecret`
 * a quoted single-line string, `additionalTrustBundle` a literal block, `imageDigestSources` a list. Keys that
 * are not configured are left out.
 */
export function renderInstallConfig(fragment: InstallConfigFragment): string {
  const out: Record<string, unknown> = { pullSecret: fragment.pullSecret };
  if (fragment.additionalTrustBundle !== undefined) out.additionalTrustBundle = fragment.additionalTrustBundle;
  if (fragment.imageDigestSources !== undefined) out.imageDigestSources = fragment.imageDigestSources.map((s) => ({ source: s.source, mirrors: [...s.mirrors] }));
  const doc = new YAML.Document(out);
  // The pull secret stays on one line (installers and people grep for it); block scalars for the PEM.
  return doc.toString({ lineWidth: 0, blockQuote: "literal" });
}
