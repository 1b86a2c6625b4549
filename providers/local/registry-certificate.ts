// RegistryCertificate: the registry's TLS certificate when the user brings none (quay-mirror:loadBalancer
// without certificateFile). A CA (ECDSA P-256 key + self-signed certificate, 10 years) is generated once, in
// `create`, and never replaced afterwards; the server certificate for the hostname (subjectAltName DNS, plus
// IP when the hostname is an IPv4/IPv6 literal) is signed by it, valid for `validityDays` (default 365), and
// re-issued — new key, same CA — by an `update` when `diff` finds less than `renewBeforeDays` (default 30)
// left at the time of the preview/up, or when the hostname changes. Nothing about the CA ever changes.
//
// X.509 is built with @peculiar/x509 (ASN.1 by @peculiar/asn1-schema) on Node's webcrypto: keys are generated
// and signatures made by Node's OpenSSL, never by JavaScript big-number code, and no ASN.1 is written here.
// The private keys are secret outputs (additionalSecretOutputs): encrypted in the state, never on argv.
import * as pulumi from "@pulumi/pulumi";
import { lazyProvider } from "../lazy";

const DAY_MS = 86_400_000;
export const DEFAULT_VALIDITY_DAYS = 365;
export const DEFAULT_RENEW_BEFORE_DAYS = 30;
export const CA_VALIDITY_DAYS = 3650;

export interface RegistryCertificateArgs {
  /** The registry's name (the certificate's subjectAltName). A change re-issues the certificate with the same CA. */
  hostname: pulumi.Input<string>;
  /** Days the server certificate is valid (default 365; 1–825). */
  validityDays?: pulumi.Input<number>;
  /** Re-issue at the first preview/up with fewer than this many days left (default 30; below validityDays). */
  renewBeforeDays?: pulumi.Input<number>;
}

export interface RegistryCertificateInputs {
  hostname: string;
  validityDays: number;
  renewBeforeDays: number;
}

export interface RegistryCertificateOuts extends RegistryCertificateInputs {
  /** PEM of the CA (public): the clusters' additionalTrustBundle. */
  caCertificate: string;
  /** PKCS#8 PEM of the CA's key (secret). */
  caPrivateKey: string;
  /** PEM of the server certificate (public). */
  certificate: string;
  /** PKCS#8 PEM of the server certificate's key (secret). */
  privateKey: string;
  /** ISO time the server certificate expires. */
  notAfter: string;
  /** ISO time the CA expires. */
  caNotAfter: string;
}

type X509 = typeof import("@peculiar/x509");
type NodeCrypto = typeof import("crypto");
type CryptoKey = import("crypto").webcrypto.CryptoKey;
type CryptoKeyPair = import("crypto").webcrypto.CryptoKeyPair;

/** @peculiar/x509 on Node's webcrypto, loaded when a certificate is made (tsyringe needs a Reflect polyfill first). */
function libs(): { x509: X509; crypto: NodeCrypto } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require("reflect-metadata");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const x509 = require("@peculiar/x509") as X509;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const crypto = require("crypto") as NodeCrypto;
  x509.cryptoProvider.set(crypto.webcrypto as never);
  return { x509, crypto };
}

const EC = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGN = { name: "ECDSA", hash: "SHA-256" } as const;

const randomSerial = (crypto: NodeCrypto): string => {
  const b = crypto.randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x40; // positive, 16 bytes
  return b.toString("hex");
};

async function newKeyPair(crypto: NodeCrypto): Promise<CryptoKeyPair> {
  return (await crypto.webcrypto.subtle.generateKey(EC, true, ["sign", "verify"])) as unknown as CryptoKeyPair;
}

function pkcs8Pem(crypto: NodeCrypto, key: CryptoKey): string {
  return crypto.KeyObject.from(key as never).export({ type: "pkcs8", format: "pem" }) as string;
}

async function importSigningKey(crypto: NodeCrypto, pem: string): Promise<CryptoKey> {
  const der = crypto.createPrivateKey(pem).export({ type: "pkcs8", format: "der" });
  return (await crypto.webcrypto.subtle.importKey("pkcs8", der, EC, false, ["sign"])) as unknown as CryptoKey;
}

/** The generated CA: its certificate and key (PEM) and expiry. */
export async function generateCa(hostname: string, now: number): Promise<{ certificate: string; privateKey: string; notAfter: string }> {
  const { x509, crypto } = libs();
  const keys = await newKeyPair(crypto);
  const notAfter = new Date(now + CA_VALIDITY_DAYS * DAY_MS);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(crypto),
    name: [{ CN: [`quay-mirror registry CA for ${hostname}`] }, { O: ["quay-mirror"] }],
    notBefore: new Date(now - 3600_000),
    notAfter,
    keys,
    signingAlgorithm: SIGN,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certificate: cert.toString("pem") + "\n", privateKey: pkcs8Pem(crypto, keys.privateKey), notAfter: notAfter.toISOString() };
}

/** A server certificate for `hostname` signed by the CA; never valid past the CA. */
export async function issueServerCertificate(
  ca: { certificate: string; privateKey: string },
  hostname: string,
  validityDays: number,
  now: number,
): Promise<{ certificate: string; privateKey: string; notAfter: string }> {
  const { x509, crypto } = libs();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const net = require("net") as typeof import("net");
  const caCert = new x509.X509Certificate(ca.certificate);
  const signingKey = await importSigningKey(crypto, ca.privateKey);
  const keys = await newKeyPair(crypto);
  const notAfter = new Date(Math.min(now + validityDays * DAY_MS, caCert.notAfter.getTime()));
  const names: { type: "dns" | "ip"; value: string }[] = [{ type: "dns", value: hostname }];
  if (net.isIP(hostname)) names.push({ type: "ip", value: hostname });
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(crypto),
    subject: [{ CN: [hostname] }],
    issuer: caCert.subjectName,
    notBefore: new Date(now - 3600_000),
    notAfter,
    publicKey: keys.publicKey,
    signingKey,
    signingAlgorithm: SIGN,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
    ],
  });
  return { certificate: cert.toString("pem") + "\n", privateKey: pkcs8Pem(crypto, keys.privateKey), notAfter: notAfter.toISOString() };
}

export class RegistryCertificateProvider implements pulumi.dynamic.ResourceProvider<RegistryCertificateInputs, RegistryCertificateOuts> {
  static readonly instance = new RegistryCertificateProvider();

  /** `clock` returns "now" in ms (tests inject one to reach the renewal window). */
  constructor(private readonly clock: () => number = Date.now) {}

  async check(_olds: RegistryCertificateInputs, news: RegistryCertificateInputs): Promise<pulumi.dynamic.CheckResult<RegistryCertificateInputs>> {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    const validityDays = news.validityDays ?? DEFAULT_VALIDITY_DAYS;
    const renewBeforeDays = news.renewBeforeDays ?? DEFAULT_RENEW_BEFORE_DAYS;
    if (typeof news.hostname !== "string" || news.hostname.length === 0 || news.hostname.length > 253 || /[^A-Za-z0-9.:-]/.test(news.hostname)) {
      failures.push({ property: "hostname", reason: "hostname must be a DNS name or an IP address" });
    }
    if (!Number.isInteger(validityDays) || validityDays < 1 || validityDays > 825) failures.push({ property: "validityDays", reason: "validityDays must be a whole number from 1 to 825" });
    if (!Number.isInteger(renewBeforeDays) || renewBeforeDays < 0 || renewBeforeDays >= validityDays) {
      failures.push({ property: "renewBeforeDays", reason: "renewBeforeDays must be a whole number from 0 to below validityDays" });
    }
    return { inputs: { hostname: news.hostname, validityDays, renewBeforeDays }, failures };
  }

  /** True when the server certificate must be re-issued now: fewer than renewBeforeDays left. */
  renewalDue(olds: Pick<RegistryCertificateOuts, "notAfter">, renewBeforeDays: number): boolean {
    const notAfter = Date.parse(olds.notAfter);
    return !Number.isFinite(notAfter) || notAfter - this.clock() < renewBeforeDays * DAY_MS;
  }

  /**
   * Never a replacement: the CA is kept whatever changes. An update (re-issue with the same CA) when the
   * hostname changes or the certificate is inside its renewal window; a new validity or window alone is
   * recorded and applies to the next certificate.
   */
  async diff(_id: string, olds: RegistryCertificateOuts, news: RegistryCertificateInputs): Promise<pulumi.dynamic.DiffResult> {
    const changed = olds.hostname !== news.hostname || olds.validityDays !== news.validityDays || olds.renewBeforeDays !== news.renewBeforeDays;
    const due = this.renewalDue(olds, news.renewBeforeDays);
    return changed || due ? { changes: true, replaces: [], deleteBeforeReplace: false } : { changes: false };
  }

  async create(inputs: RegistryCertificateInputs): Promise<pulumi.dynamic.CreateResult<RegistryCertificateOuts>> {
    const now = this.clock();
    const ca = await generateCa(inputs.hostname, now);
    const server = await issueServerCertificate(ca, inputs.hostname, inputs.validityDays, now);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const id = (require("crypto") as NodeCrypto).randomUUID();
    return {
      id,
      outs: { ...inputs, caCertificate: ca.certificate, caPrivateKey: ca.privateKey, caNotAfter: ca.notAfter, certificate: server.certificate, privateKey: server.privateKey, notAfter: server.notAfter },
    };
  }

  async update(_id: string, olds: RegistryCertificateOuts, news: RegistryCertificateInputs): Promise<pulumi.dynamic.UpdateResult<RegistryCertificateOuts>> {
    const ca = { certificate: olds.caCertificate, privateKey: olds.caPrivateKey, notAfter: olds.caNotAfter };
    const reissue = olds.hostname !== news.hostname || this.renewalDue(olds, news.renewBeforeDays);
    const server = reissue ? await issueServerCertificate(ca, news.hostname, news.validityDays, this.clock()) : { certificate: olds.certificate, privateKey: olds.privateKey, notAfter: olds.notAfter };
    return {
      outs: { ...news, caCertificate: ca.certificate, caPrivateKey: ca.privateKey, caNotAfter: ca.notAfter, certificate: server.certificate, privateKey: server.privateKey, notAfter: server.notAfter },
    };
  }

  /** Nothing outside the state to look at: the state is the truth. */
  async read(id: string, props?: RegistryCertificateOuts): Promise<pulumi.dynamic.ReadResult<RegistryCertificateOuts>> {
    return { id, ...(props ? { props } : {}) };
  }
}

const providerShim = lazyProvider("providers/local/registry-certificate", "RegistryCertificateProvider");

/** A CA generated once and the registry's certificate it signs, re-issued before expiry. Keys are secret outputs. */
export class RegistryCertificate extends pulumi.dynamic.Resource {
  declare readonly caCertificate: pulumi.Output<string>;
  declare readonly caPrivateKey: pulumi.Output<string>;
  declare readonly certificate: pulumi.Output<string>;
  declare readonly privateKey: pulumi.Output<string>;
  declare readonly notAfter: pulumi.Output<string>;
  declare readonly caNotAfter: pulumi.Output<string>;

  constructor(name: string, args: RegistryCertificateArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerShim,
      name,
      { ...args, caCertificate: undefined, caPrivateKey: undefined, certificate: undefined, privateKey: undefined, notAfter: undefined, caNotAfter: undefined },
      pulumi.mergeOptions(opts, { additionalSecretOutputs: ["caPrivateKey", "privateKey"] }),
      "local",
      "RegistryCertificate",
    );
  }
}
