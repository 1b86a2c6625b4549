// The whole program as one function: read and validate every input, then declare. index.ts calls it;
// end-to-end tests call it inline with their own stack config.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "../config/errors";
import { renderInstallConfig } from "../config/install-config";
import { parseCertificateChain, parseLoadBalancerArgs } from "../config/load-balancer";
import { parseObjectStorageArgs } from "../config/object-storage";
import { ProgramInputs, loadProgramInputs, rawStackConfig } from "../config/program";
import { parseQuayBackupsArgs } from "../config/quay-backups";
import { parseQuayHostArgs } from "../config/quay-host";
import { checkEngineConfig, stackSettingsFile } from "../config/stack-file";
import { ApiToken } from "../providers/quay/api-token";
import { MirrorRegistry } from "./mirror-registry";
import { ObjectStorage, ObjectStorageArgs } from "./object-storage";
import { QuayBackups, QuayBackupsArgs, restoreGate } from "./quay-backups";
import { QuayHost, QuayHostArgs } from "./quay-host";
import { LoadBalancer, LoadBalancerArgs } from "./load-balancer";
import { readTextFile } from "../config/text-file";
import { RegistryCertificate } from "../providers/local/registry-certificate";

/** Stack config keys that hold secrets (read with requireSecret, never validated as plain values). */
export const SECRET_KEYS = ["sshPrivateKey", "storageSecretKey", "minioAdminSecretKey", "backupPassphrase", "tlsPrivateKey"];

/**
 * The secret keys a stack with these (raw, unvalidated) settings must set: what `scripts/preview-lab.sh`
 * fills with throwaway values for a preview. `backupPassphrase` is optional (generated when unset).
 */
export function requiredSecretKeys(raw: Record<string, unknown>): string[] {
  const mode = raw.mode ?? "full";
  const keys: string[] = [];
  const lb = mode === "full" && raw.loadBalancer !== undefined;
  if (mode === "full" && (!usesSshAgent(raw.host) || (lb && !usesSshAgent(raw.loadBalancer)))) keys.push("sshPrivateKey");
  if (lb && !generatesCertificate(raw.loadBalancer)) keys.push("tlsPrivateKey");
  if (mode === "full" && raw.objectStorage === undefined) keys.push("storageSecretKey");
  if (raw.objectStorage !== undefined) keys.push("minioAdminSecretKey");
  return keys;
}

/**
 * `quay-mirror:host.connection.agentSocketPath` is set: the SSH key comes from an agent at that path when a
 * step runs, and the program reads no `quay-mirror:sshPrivateKey` (the key is neither in it nor in the state).
 */
export function usesSshAgent(host: unknown): boolean {
  const parsed = typeof host === "string" ? safeJson(host) : host;
  const connection = (parsed as { connection?: unknown } | undefined)?.connection;
  return typeof connection === "object" && connection !== null && (connection as { agentSocketPath?: unknown }).agentSocketPath !== undefined;
}

/** The value of `quay-mirror:loadBalancer.certificate` that makes the stack generate the CA and the certificate. */
export const GENERATE_CERTIFICATE = "generate";

/**
 * `quay-mirror:loadBalancer` (raw) has the stack generate its certificate: no `certificateFile` (or an
 * explicit `certificate: generate`). Conflicts are reported by loadBalancerArgs.
 */
export function generatesCertificate(loadBalancer: unknown): boolean {
  const parsed = (typeof loadBalancer === "string" ? safeJson(loadBalancer) : loadBalancer) as { certificateFile?: unknown } | undefined;
  return typeof parsed === "object" && parsed !== null && parsed.certificateFile === undefined;
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

/** Where the long-lived API token's OAuth application lives (the host's sign-in path uses it too). */
export const AUTOMATION_ORGANIZATION = "quay-mirror-bootstrap";

/** The MinIO client to upload to the host: `host.tools.mcBinary`, else `mc` on PATH (scripts/env.sh puts the one scripts/install-tools.sh builds there). */
function mcBinaryFor(inputs: ProgramInputs, host: Record<string, unknown>): string {
  const configured = (host.tools as { mcBinary?: unknown } | undefined)?.mcBinary;
  if (typeof configured === "string") {
    const file = path.isAbsolute(configured) ? configured : path.join(path.dirname(inputs.stackFile), configured);
    if (!fs.existsSync(file) || !fs.statSync(file).isFile()) {
      throw new ConfigError(inputs.stackFile, [
        { path: ["quay-mirror:host", "tools", "mcBinary"], message: `no such file: ${file}`, fix: "point it at a MinIO client binary for the host (scripts/install-tools.sh builds one)" },
      ]);
    }
    return file;
  }
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    const candidate = path.join(dir, "mc");
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new ConfigError(inputs.stackFile, [
    {
      path: ["quay-mirror:host", "tools", "mcBinary"],
      message: "the storage preflight and the backups need MinIO's client (mc) on the host, and none is configured or on PATH",
      fix: "set quay-mirror:host.tools.mcBinary to a local mc binary, or run scripts/install-tools.sh and use scripts/pulumi.sh (its PATH has mc)",
    },
  ]);
}

/** An access key pair as a component hands it out (the secret key a secret Output). */
interface KeyPair {
  accessKey: pulumi.Input<string>;
  secretKey: pulumi.Input<string>;
}

/** Stand-ins for values that only exist once resources are declared: validation runs before any is. */
const pendingKeys = (): KeyPair => ({ accessKey: pulumi.output("pending-access-key"), secretKey: pulumi.secret("pending-secret-key") });

/** ObjectStorage's arguments from `quay-mirror:objectStorage` (the admin key: the minioAdminSecretKey secret); validated. */
function objectStorageArgs(inputs: ProgramInputs): ObjectStorageArgs {
  const raw = inputs.config.objectStorage as Record<string, unknown>;
  const { adminAccessKey, endpoint, ...rest } = raw;
  if (typeof adminAccessKey !== "string") {
    throw new ConfigError(inputs.stackFile, [{ path: ["quay-mirror:objectStorage", "adminAccessKey"], message: "is required", fix: "give MinIO's root user or an admin user (its secret key: quay-mirror:minioAdminSecretKey)" }]);
  }
  const secretKey = new pulumi.Config("quay-mirror").requireSecret("minioAdminSecretKey");
  const args = { ...rest, connection: { endpoint, accessKey: adminAccessKey, secretKey } };
  parseObjectStorageArgs(args, `${inputs.stackFile} (quay-mirror:objectStorage; secret quay-mirror:minioAdminSecretKey)`);
  return args as unknown as ObjectStorageArgs;
}

/** Quay's storage settings when ObjectStorage manages MinIO: the endpoint's host and port, its bucket and storage user. */
function managedStorage(inputs: ProgramInputs, given: Record<string, unknown>, keys: KeyPair): Record<string, unknown> {
  const raw = inputs.config.objectStorage as { endpoint?: unknown; storageBucket?: unknown };
  const conflicts = ["accessKey", "secretKey"].filter((k) => k in given);
  if (conflicts.length) {
    throw new ConfigError(
      inputs.stackFile,
      conflicts.map((k) => ({
        path: ["quay-mirror:host", "storage", k],
        message: "is set, but quay-mirror:objectStorage creates Quay's storage user and key",
        fix: `remove quay-mirror:host.storage.${k}${k === "secretKey" ? " (and the storageSecretKey secret)" : ""}`,
      })),
    );
  }
  const url = new URL(String(raw.endpoint));
  const bucket = (raw.storageBucket as string | undefined) ?? "quay-storage";
  if (given.bucket !== undefined && given.bucket !== bucket) {
    throw new ConfigError(inputs.stackFile, [
      { path: ["quay-mirror:host", "storage", "bucket"], message: `"${String(given.bucket)}" differs from objectStorage's storage bucket "${bucket}"`, fix: "remove host.storage.bucket or make the two equal" },
    ]);
  }
  return {
    hostname: url.hostname,
    port: url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80,
    isSecure: url.protocol === "https:",
    ...given,
    bucket,
    accessKey: keys.accessKey,
    secretKey: keys.secretKey,
  };
}

/**
 * Full mode: QuayHost's arguments from `quay-mirror:host` plus the secrets, checked with QuayHost's schema so
 * a mistake names the stack file and the key. `storageKeys`: the storage user ObjectStorage creates, if any.
 */
function quayHostArgs(inputs: ProgramInputs, storageKeys?: KeyPair): QuayHostArgs {
  const cfg = new pulumi.Config("quay-mirror");
  const host = (inputs.config.host ?? {}) as Record<string, Record<string, unknown> | unknown>;
  const given = (host.storage as Record<string, unknown>) ?? {};
  // The SSH key: from the agent at host.connection.agentSocketPath (never read here), or the sshPrivateKey secret.
  const agent = usesSshAgent(host);
  if (agent && cfg.getSecret("sshPrivateKey") !== undefined) {
    throw new ConfigError(inputs.stackFile, [
      {
        path: ["quay-mirror:host", "connection", "agentSocketPath"],
        message: "is set, and so is the secret quay-mirror:sshPrivateKey: the key comes from the SSH agent at that path, or from the secret, not both",
        fix: "remove the secret (pulumi config rm quay-mirror:sshPrivateKey; the key goes into the agent: ssh-add, in CI scripts/ci-stack.sh start-agent), or remove agentSocketPath to use the secret",
      },
    ]);
  }
  // host.restoreFrom / host.restoreOverwrite belong to the rebuild from backup (QuayBackups' restore step).
  const { restoreFrom: _restoreFrom, restoreOverwrite: _restoreOverwrite, ...hostArgs } = host;
  void _restoreFrom;
  void _restoreOverwrite;
  const args = {
    ...hostArgs,
    serverHostname: (host.serverHostname as string | undefined) ?? inputs.config.registryHostname,
    proxyCache: inputs.config.proxyCaches !== undefined,
    connection: { ...((host.connection as object) ?? {}), ...(agent ? {} : { privateKey: cfg.requireSecret("sshPrivateKey") }) },
    storage: storageKeys ? managedStorage(inputs, given, storageKeys) : { ...given, secretKey: cfg.requireSecret("storageSecretKey") },
    // With managed storage the host gets MinIO's client: the preflight checks the bucket before Quay starts.
    ...(storageKeys ? { tools: { ...((host.tools as object) ?? {}), mcBinary: mcBinaryFor(inputs, host) } } : {}),
    bootstrap: { organization: AUTOMATION_ORGANIZATION, ...((host.bootstrap as object) ?? {}) },
    // The random plugin cannot be built on these machines; the crypto-based generator needs no plugin.
    secretGenerator: "node-crypto",
  } as unknown as QuayHostArgs;
  // Fails with every problem, each as a JSON path under quay-mirror:host in the stack file.
  const secrets = [...(agent ? [] : ["sshPrivateKey"]), storageKeys ? "minioAdminSecretKey" : "storageSecretKey"].map((k) => `quay-mirror:${k}`).join(", ");
  parseQuayHostArgs(args, `${inputs.stackFile} (quay-mirror:host; secrets ${secrets})`);
  return args;
}

/** The generated certificate and key LoadBalancer gets in generate mode (placeholders while validating). */
interface GeneratedTls {
  certificate: pulumi.Input<string>;
  privateKey: pulumi.Input<string>;
}

/**
 * `quay-mirror:loadBalancer`: LoadBalancer's arguments. The certificate either from `certificateFile`
 * (relative to the stack file's directory) with its key the secret tlsPrivateKey, or — without
 * `certificateFile`, or with `certificate: generate` — the one local:RegistryCertificate generates (`generated`).
 * The SSH key is the agent's or sshPrivateKey; the backends default to the Quay host's :8080. Validated; the
 * load balancer must be another host than Quay's (each host's firewall step keeps exactly its own rules).
 */
function loadBalancerArgs(inputs: ProgramInputs, generated?: GeneratedTls): LoadBalancerArgs {
  const cfg = new pulumi.Config("quay-mirror");
  const raw = inputs.config.loadBalancer as Record<string, unknown>;
  const { certificateFile, certificate: mode, connection, ...rest } = raw;
  const at = (...p: (string | number)[]) => ["quay-mirror:loadBalancer", ...p];
  if (mode !== undefined && mode !== GENERATE_CERTIFICATE) {
    throw new ConfigError(inputs.stackFile, [
      { path: at("certificate"), message: `must be "${GENERATE_CERTIFICATE}" (got ${JSON.stringify(mode)})`, fix: `write \`certificate: ${GENERATE_CERTIFICATE}\` to have the stack make a CA and the certificate, or leave it out and give certificateFile (your certificate; its key the secret quay-mirror:tlsPrivateKey)` },
    ]);
  }
  if (mode === GENERATE_CERTIFICATE && certificateFile !== undefined) {
    throw new ConfigError(inputs.stackFile, [
      { path: at("certificateFile"), message: `is set together with certificate: ${GENERATE_CERTIFICATE}`, fix: `keep one: certificateFile for your own certificate (its key the secret quay-mirror:tlsPrivateKey), or certificate: ${GENERATE_CERTIFICATE} for one the stack makes` },
    ]);
  }
  if (certificateFile !== undefined && (typeof certificateFile !== "string" || certificateFile === "")) {
    throw new ConfigError(inputs.stackFile, [{ path: at("certificateFile"), message: "must be the path of a PEM file", fix: "give the PEM file of the registry's certificate (then its intermediates); its key is the secret quay-mirror:tlsPrivateKey — or remove certificateFile to have the stack generate one" }]);
  }
  const quayHost = ((inputs.config.host as { connection?: { host?: unknown } } | undefined)?.connection?.host ?? "") as string;
  const lbHost = (connection as { host?: unknown } | undefined)?.host;
  if (typeof lbHost === "string" && lbHost === quayHost) {
    throw new ConfigError(inputs.stackFile, [
      { path: at("connection", "host"), message: `is the Quay host (${quayHost}): the two firewalls would fight`, fix: "put HAProxy on its own host, or leave quay-mirror:loadBalancer out and run the proxy yourself" },
    ]);
  }
  const agent = usesSshAgent(raw);
  const base = {
    backends: [{ address: quayHost, port: 8080 }],
    ...rest,
    connection: { ...((connection as object) ?? {}), ...(agent ? {} : { privateKey: cfg.requireSecret("sshPrivateKey") }) },
    registryHostname: inputs.config.registryHostname,
  };
  const sshSecret = agent ? "" : ", quay-mirror:sshPrivateKey";
  if (typeof certificateFile !== "string") {
    checkGeneratedMode(inputs, cfg);
    if (!generated) throw new Error("internal: the generated certificate was not declared before the LoadBalancer");
    const args = { ...base, certificate: generated.certificate, privateKey: generated.privateKey } as unknown as LoadBalancerArgs;
    parseLoadBalancerArgs(args, `${inputs.stackFile} (quay-mirror:loadBalancer, certificate: ${GENERATE_CERTIFICATE}${sshSecret ? `; secrets${sshSecret.slice(1)}` : ""})`);
    return args;
  }
  const file = path.isAbsolute(certificateFile) ? certificateFile : path.join(path.dirname(inputs.stackFile), certificateFile);
  const certificate = readTextFile(file, "certificate (quay-mirror:loadBalancer.certificateFile)", "correct quay-mirror:loadBalancer.certificateFile (a relative path is relative to the stack file's directory)");
  checkTrustBundleSigns(inputs, certificate, file);
  const args = { ...base, certificate, privateKey: cfg.requireSecret("tlsPrivateKey") } as unknown as LoadBalancerArgs;
  parseLoadBalancerArgs(args, `${inputs.stackFile} (quay-mirror:loadBalancer, the certificate read from ${file}; secrets quay-mirror:tlsPrivateKey${sshSecret})`);
  return args;
}

/**
 * Generate mode leaves no room for the user's own TLS material: a tlsPrivateKey secret or a trust bundle file
 * would be silently ignored (the trust bundle outputs are the generated CA), so they are refused.
 */
function checkGeneratedMode(inputs: ProgramInputs, cfg: pulumi.Config): void {
  if (cfg.getSecret("tlsPrivateKey") !== undefined) {
    throw new ConfigError(inputs.stackFile, [
      {
        path: ["quay-mirror:tlsPrivateKey"],
        message: "is set, but the load balancer's certificate is generated (quay-mirror:loadBalancer has no certificateFile)",
        fix: "give quay-mirror:loadBalancer.certificateFile (the certificate of this key), or remove the secret: scripts/pulumi.sh config rm quay-mirror:tlsPrivateKey",
      },
    ]);
  }
  if (inputs.additionalTrustBundle !== undefined) {
    throw new ConfigError(inputs.stackFile, [
      {
        path: ["quay-mirror:additionalTrustBundleFile"],
        message: "is set, but the load balancer's certificate is generated: the additionalTrustBundle output is the CA the stack generates",
        fix: "remove quay-mirror:additionalTrustBundleFile, or give quay-mirror:loadBalancer.certificateFile (a certificate that CA signed)",
      },
    ]);
  }
}

/**
 * With both quay-mirror:additionalTrustBundleFile and the load balancer's certificate: the bundle must hold the
 * CA that signed the certificate (or its last intermediate), or clusters installed with the installConfig
 * output could not pull.
 */
function checkTrustBundleSigns(inputs: ProgramInputs, certificate: string, file: string): void {
  if (inputs.additionalTrustBundle === undefined) return;
  const chain = parseCertificateChain(certificate);
  if (typeof chain === "string") return; // parseLoadBalancerArgs reports it
  const cas = parseCertificateChain(inputs.additionalTrustBundle);
  if (typeof cas === "string") return;
  const signed = chain.some((c) => cas.some((ca) => c.fingerprint256 === ca.fingerprint256 || (c.checkIssued(ca) && c.verify(ca.publicKey))));
  if (!signed) {
    throw new ConfigError(inputs.stackFile, [
      {
        path: ["quay-mirror:additionalTrustBundleFile"],
        message: `holds no CA that signed the load balancer's certificate (${file}, issuer ${chain[chain.length - 1]!.issuer.replace(/\n/g, ", ")})`,
        fix: "give the PEM of the CA that issued the certificate (clusters must trust it to pull)",
      },
    ]);
  }
}

/** What QuayBackups takes from the host and from ObjectStorage. */
interface BackupsWiring {
  connection: QuayBackupsArgs["connection"];
  after: pulumi.Resource[];
  mcPath?: string;
  endpoint: pulumi.Input<string>;
  backupCredentials: KeyPair;
  restoreCredentials: KeyPair;
}

/**
 * QuayBackups' arguments from `quay-mirror:backups`: the put-only uploader and the restore reader ObjectStorage
 * creates; the passphrase is the backupPassphrase secret if set, else generated once. Validated.
 */
function quayBackupsArgs(inputs: ProgramInputs, wiring: BackupsWiring): QuayBackupsArgs {
  const raw = inputs.config.backups as Record<string, unknown>;
  const objectStorage = inputs.config.objectStorage as { backupBucket?: string };
  const bucket = objectStorage.backupBucket ?? "quay-backups";
  if (raw.bucket !== undefined && raw.bucket !== bucket) {
    throw new ConfigError(inputs.stackFile, [
      { path: ["quay-mirror:backups", "bucket"], message: `"${String(raw.bucket)}" is not the backup bucket objectStorage creates`, fix: "remove backups.bucket (it follows objectStorage.backupBucket)" },
    ]);
  }
  const passphrase = new pulumi.Config("quay-mirror").getSecret("backupPassphrase");
  const host = (inputs.config.host ?? {}) as { restoreFrom?: unknown; restoreOverwrite?: unknown };
  const restore = { ...(host.restoreFrom !== undefined ? { restoreFrom: host.restoreFrom } : {}), ...(host.restoreOverwrite !== undefined ? { restoreOverwrite: host.restoreOverwrite } : {}) };
  const args = { bucket, ...raw, ...wiring, ...restore, ...(passphrase !== undefined ? { passphrase } : {}) } as unknown as QuayBackupsArgs;
  parseQuayBackupsArgs(args, `${inputs.stackFile} (quay-mirror:backups; optional secret quay-mirror:backupPassphrase)`);
  return args;
}

/**
 * Every component's arguments, checked before the first resource is declared: a mistake fails the preview
 * with the stack file, the key and the fix, and nothing is half-declared.
 */
function validateComponentArgs(inputs: ProgramInputs): void {
  const { config } = inputs;
  if (config.objectStorage) objectStorageArgs(inputs);
  if (config.mode !== "full") return;
  const managed = config.objectStorage ? pendingKeys() : undefined;
  quayHostArgs(inputs, managed);
  if (config.loadBalancer) loadBalancerArgs(inputs, { certificate: pulumi.output("pending"), privateKey: pulumi.secret("pending") });
  if (config.backups) {
    const connection = { host: "pending.invalid", hostKey: "pending" } as QuayBackupsArgs["connection"];
    quayBackupsArgs(inputs, { connection, after: [], endpoint: String((config.objectStorage as { endpoint?: unknown }).endpoint), backupCredentials: pendingKeys(), restoreCredentials: pendingKeys() });
  }
}

export interface QuayMirrorOutputs {
  apiUrl: pulumi.Input<string>;
  registryHostname: string;
  pullSecret: pulumi.Output<string>;
  mirrorCredentials: pulumi.Output<Record<string, string>>;
  robotCredentials: pulumi.Output<Record<string, { username: string; password: string }>>;
  proxyCacheMirrors: { upstream: string; organization: string; mirror: string }[];
  /** MinIO's side when `quay-mirror:objectStorage` manages it: endpoint, buckets and the users' access keys. */
  objectStorage?: pulumi.Output<{ endpoint: string; storageBucket: string; backupBucket: string; accessKeys: Record<"storage" | "backup" | "restore", string> }>;
  /** The fragment to merge into install-config.yaml (secret: it holds the pull secret): pullSecret, additionalTrustBundle, imageDigestSources. */
  installConfig: pulumi.Output<string>;
  /** The CA that signed the registry's certificate (PEM): quay-mirror:additionalTrustBundleFile's, or the CA the stack generated. */
  additionalTrustBundle?: pulumi.Input<string>;
  /** The generated CA's private key (PKCS#8 PEM, secret), when the stack generates the certificate: keep it in custody. */
  registryCaKey?: pulumi.Output<string>;
  /** The backup encryption passphrase (secret), when backups are on: keep a copy in custody: without it no backup can be decrypted (docs/backups.md). */
  backupPassphrase?: pulumi.Output<string>;
  /** Where backups land (`<bucket>/<prefix>/`) and the units that make and prove them. */
  backups?: pulumi.Output<{ location: string; units: { backup: string; restoreValidate: string } }>;
}

/**
 * What only the program sees of the settings: a secret key whose value the engine does not hold as a secret
 * (written in plain text), and decrypted secret values of the wrong shape (an SSH public key as the private
 * key). Checked before anything is declared; the values are never printed.
 */
function checkSecrets(stackFile: string): void {
  const all = pulumi.runtime.allConfig();
  // @internal in the SDK but exported (runtime/config.js); without it the plain-text check is skipped.
  const isSecret = (pulumi.runtime as unknown as { isConfigSecret?: (key: string) => boolean }).isConfigSecret;
  checkEngineConfig(all, isSecret, stackFile);
}

export function quayMirror(projectDir: string = process.cwd()): QuayMirrorOutputs {
  // The file the user wrote: scripts/lib-stack.sh runs the engine on a generated copy of it.
  const stackFile = stackSettingsFile(projectDir, pulumi.getStack());
  checkSecrets(stackFile);
  const inputs = loadProgramInputs(rawStackConfig(pulumi.runtime.allConfig(), "quay-mirror", SECRET_KEYS), projectDir, stackFile);
  const { config } = inputs;

  validateComponentArgs(inputs);

  let apiUrl: pulumi.Input<string>;
  let token: pulumi.Input<string>;
  const dependsOn: pulumi.Resource[] = [];
  const storage = config.objectStorage ? new ObjectStorage("storage", objectStorageArgs(inputs)) : undefined;
  let backups: QuayBackups | undefined;
  let registryTls: RegistryCertificate | undefined;
  if (config.mode === "existing") {
    apiUrl = config.apiUrl!.replace(/\/+$/, "");
    token = new pulumi.Config("quay").requireSecret("token");
  } else {
    // Rebuild from backup (host.restoreFrom): Quay's first start waits for QuayBackups' restore step, declared
    // after the host (it works over the host's connection). The gate opens once that step exists; if declaring
    // it fails, the gate fails and Quay's unit step with it, so Quay never starts on an empty database.
    const restoring = Boolean(config.backups && storage && (config.host as { restoreFrom?: unknown } | undefined)?.restoreFrom !== undefined);
    const gate = restoring ? restoreGate() : undefined;
    // The preflight needs the buckets, users and policies in place.
    const host = new QuayHost("quay", { ...quayHostArgs(inputs, storage?.storageCredentials), ...(gate ? { startAfter: gate.startAfter } : {}) }, storage ? { dependsOn: [storage] } : undefined);
    // The managed HAProxy (quay-mirror:loadBalancer), when set: the API and the registry are reached through it.
    // Without certificateFile the stack makes the CA (once, kept) and the certificate (re-issued before expiry).
    registryTls = config.loadBalancer && generatesCertificate(config.loadBalancer) ? new RegistryCertificate("registry-tls", { hostname: config.registryHostname }) : undefined;
    const lb = config.loadBalancer
      ? new LoadBalancer("lb", loadBalancerArgs(inputs, registryTls && { certificate: registryTls.certificate, privateKey: registryTls.privateKey }))
      : undefined;
    // Behind the TLS proxy by default; tests and operators on the proxy's network may give the host's :8080.
    apiUrl = (config.apiUrl ?? `https://${config.registryHostname}`).replace(/\/+$/, "");
    // The initialize token lasts 2.5 h: mint a long-lived one right away and use it for everything else.
    const apiToken = new ApiToken(
      "api-token",
      { connection: { endpoint: apiUrl, token: host.bootstrapToken }, organization: AUTOMATION_ORGANIZATION, createOrganization: true, name: "quay-mirror" },
      { dependsOn: lb ? [host.ready, lb.ready] : [host.ready] },
    );
    token = apiToken.token;
    dependsOn.push(host.ready, ...(lb ? [lb.ready] : []));
    if (config.backups && storage) {
      try {
        backups = new QuayBackups(
          "backups",
          quayBackupsArgs(inputs, {
            connection: host.connection,
            after: [host.steps.postgres, host.steps.config, host.steps.tools].filter((r): r is pulumi.Resource => r !== undefined),
            mcPath: host.mcPath,
            endpoint: storage.endpoint,
            backupCredentials: storage.backupCredentials,
            restoreCredentials: storage.restoreCredentials,
          }),
        );
      } catch (e) {
        gate?.fail("the restore step was not declared; Quay is not started on an empty database");
        throw e;
      }
      gate?.open(backups);
    }
  }

  const registry = new MirrorRegistry("mirror", { inputs, connection: { endpoint: apiUrl, token } }, { dependsOn });
  const trustBundle: pulumi.Input<string> | undefined = registryTls ? registryTls.caCertificate : inputs.additionalTrustBundle;
  return {
    apiUrl,
    registryHostname: config.registryHostname,
    pullSecret: registry.pullSecret,
    mirrorCredentials: registry.mirrorCredentials,
    robotCredentials: registry.robotCredentials,
    proxyCacheMirrors: registry.proxyCacheMirrors,
    installConfig: pulumi.secret(
      pulumi
        .all([registry.pullSecret, trustBundle])
        .apply(([pullSecret, additionalTrustBundle]) => renderInstallConfig({ pullSecret, additionalTrustBundle, imageDigestSources: inputs.imageDigestSources })),
    ),
    additionalTrustBundle: trustBundle,
    registryCaKey: registryTls ? pulumi.secret(registryTls.caPrivateKey) : undefined,
    objectStorage: storage
      ? pulumi.all([storage.endpoint, storage.storageBucketName, storage.backupBucketName, storage.storageCredentials.accessKey, storage.backupCredentials.accessKey, storage.restoreCredentials.accessKey])
          .apply(([endpoint, storageBucket, backupBucket, storageKey, backupKey, restoreKey]) => ({ endpoint, storageBucket, backupBucket, accessKeys: { storage: storageKey, backup: backupKey, restore: restoreKey } }))
      : undefined,
    backupPassphrase: backups?.backupPassphrase,
    backups: backups ? pulumi.all([backups.location, backups.units]).apply(([location, units]) => ({ location, units })) : undefined,
  };
}
