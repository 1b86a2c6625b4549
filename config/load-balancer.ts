// LoadBalancer's arguments (components/load-balancer): the SSH connection (QuayHost's schema and host-key
// pinning), the registry's name, the Quay nodes, and the certificate the user provides with its key (a secret).
import * as crypto from "crypto";
import * as net from "net";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { ConfigError, issuesFromZod } from "./errors";
import { connectionSchema, TRUST_ON_FIRST_USE } from "./quay-host";

const HOSTNAME_RE = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

const isOutput = (v: unknown): v is pulumi.Output<string> => pulumi.Output.isInstance(v);

/** Why a value is not a PEM private key, or undefined. Never includes the value. */
export function tlsPrivateKeyProblem(v: string): string | undefined {
  if (!/-----BEGIN ([A-Z]+ )?PRIVATE KEY-----/.test(v)) {
    return "the TLS private key must be the PEM text of a private key (-----BEGIN … PRIVATE KEY-----) — fix: `scripts/pulumi.sh config set --secret quay-mirror:tlsPrivateKey < registry.key` (the key of the certificate, unencrypted)";
  }
  try {
    crypto.createPrivateKey(v);
  } catch {
    return "the TLS private key cannot be read (encrypted, or damaged) — fix: give the unencrypted PEM key of the certificate (`openssl pkey -in registry.key -out plain.key`)";
  }
  return undefined;
}

/** The certificates of a PEM chain (leaf first), or the problem. */
export function parseCertificateChain(pem: string): crypto.X509Certificate[] | string {
  if (/PRIVATE KEY-----/.test(pem)) return "holds a private key — fix: give the key as the secret quay-mirror:tlsPrivateKey and keep the certificate file to certificates";
  const blocks = pem.replace(/\r\n/g, "\n").match(/-----BEGIN CERTIFICATE-----\n[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) return "holds no PEM certificate (-----BEGIN CERTIFICATE-----) — fix: give the registry's certificate, then its intermediates, in PEM";
  try {
    return blocks.map((b) => new crypto.X509Certificate(b));
  } catch (e) {
    return `is not a valid certificate chain: ${(e as Error).message} — fix: give the registry's certificate, then its intermediates, in PEM`;
  }
}

const backendSchema = z
  .object({
    address: z
      .string({ error: "address must be a string" })
      .refine((v) => HOSTNAME_RE.test(v) || net.isIPv4(v), { message: "address must be a Quay node's IPv4 address or DNS name — fix: e.g. 10.0.0.11 or quay-1.example.com (IPv6 literals are not supported yet)" }),
    port: z.number().int().min(1).max(65535).default(8080),
  })
  .strict();

export const loadBalancerArgsSchema = z
  .object({
    /** SSH to the load balancer's host: QuayHost's connection rules (hostKey or knownHostsFile pins the key). */
    connection: connectionSchema,
    /** The name clients use; the certificate must be valid for it. */
    registryHostname: z.string().refine((v) => HOSTNAME_RE.test(v), { message: "registryHostname must be a DNS name — fix: e.g. quay.example.com" }),
    /** The Quay nodes' HTTP (default port 8080). */
    backends: z.array(backendSchema).min(1, "at least one Quay node is needed — fix: list the Quay hosts' addresses"),
    /**
     * PEM: the registry's certificate, then its intermediates (public). A string is checked here; an Output
     * (the certificate the stack generates, local:RegistryCertificate) with the key when both resolve.
     */
    certificate: z.union([z.string(), z.custom<pulumi.Output<string>>(isOutput, { message: "must be a string or a pulumi Output<string>" })]),
    /** PEM private key of the certificate (a secret; an Output is checked when it resolves). */
    privateKey: z.union([z.string(), z.custom<pulumi.Output<string>>(isOutput, { message: "must be a string or a pulumi Output<string>" })]),
    /** What the health checks ask each node. Default /health/instance. */
    healthCheckPath: z
      .string()
      .regex(/^\/[A-Za-z0-9._/-]*$/, "healthCheckPath must be a path of letters, digits and . _ / - — fix: e.g. /health/instance")
      .default("/health/instance"),
    /** How long the first step waits for SSH, cloud-init and systemd. Default 900 s. */
    bootTimeoutSeconds: z.number().int().min(10).max(7200).default(900),
  })
  .strict()
  .superRefine((a, ctx) => {
    if (a.connection.hostKeyPolicy === TRUST_ON_FIRST_USE || a.connection.bastion?.hostKeyPolicy === TRUST_ON_FIRST_USE) {
      ctx.addIssue({ code: "custom", path: ["connection", "hostKeyPolicy"], message: `${TRUST_ON_FIRST_USE} is not supported for the load balancer — fix: pin its key with hostKey or knownHostsFile` });
    }
    if (typeof a.certificate !== "string") return;
    const chain = parseCertificateChain(a.certificate);
    if (typeof chain === "string") {
      ctx.addIssue({ code: "custom", path: ["certificate"], message: `the certificate ${chain}` });
      return;
    }
    const leaf = chain[0]!;
    if (leaf.checkHost(a.registryHostname) === undefined) {
      ctx.addIssue({ code: "custom", path: ["certificate"], message: `the certificate (${leaf.subject.replace(/\n/g, ", ")}) is not valid for ${a.registryHostname} — fix: give a certificate whose subjectAltName has DNS:${a.registryHostname}` });
    }
    if (Date.parse(leaf.validTo) <= Date.now()) {
      ctx.addIssue({ code: "custom", path: ["certificate"], message: `the certificate expired on ${leaf.validTo} — fix: renew it` });
    }
    if (typeof a.privateKey === "string") {
      const problem = tlsPrivateKeyProblem(a.privateKey);
      if (problem) ctx.addIssue({ code: "custom", path: ["privateKey"], message: problem });
      else if (!leaf.checkPrivateKey(crypto.createPrivateKey(a.privateKey))) {
        ctx.addIssue({ code: "custom", path: ["privateKey"], message: "the TLS private key is not the certificate's key — fix: give the key the certificate was issued for" });
      }
    }
  });

export type LoadBalancerInput = z.input<typeof loadBalancerArgsSchema>;
export type LoadBalancerSettings = z.output<typeof loadBalancerArgsSchema>;

/** Parses and defaults LoadBalancer's arguments; a ConfigError naming `where` and each JSON path. Never echoes a value. */
export function parseLoadBalancerArgs(args: unknown, where = "LoadBalancer arguments"): LoadBalancerSettings {
  const r = loadBalancerArgsSchema.safeParse(args);
  if (r.success) return r.data;
  throw new ConfigError(where, issuesFromZod(r.error));
}

/** The key's check for a key or certificate that was an Output at parse time (a secret config value, a generated certificate): when they resolve. */
export function checkTlsKeyLater(key: pulumi.Input<string>, certificate: pulumi.Input<string>, where: string): pulumi.Output<string> {
  return pulumi.secret(
    pulumi.all([pulumi.output(key), pulumi.output(certificate)]).apply(([k, certificate]) => {
      const problem = tlsPrivateKeyProblem(k);
      if (problem) throw new ConfigError(where, [{ path: ["privateKey"], message: problem }]);
      const chain = parseCertificateChain(certificate);
      if (typeof chain !== "string" && !chain[0]!.checkPrivateKey(crypto.createPrivateKey(k))) {
        throw new ConfigError(where, [{ path: ["privateKey"], message: "the TLS private key is not the certificate's key — fix: give the key the certificate was issued for" }]);
      }
      return k;
    }),
  );
}
