// local:RegistryCertificate's provider: the CA is made once and kept; the server certificate verifies against it
// with Node's own X509Certificate (signature, issuer, host name, key match), is re-issued with the same CA when
// the renewal window is reached (an injected clock) or the hostname changes, and is left alone otherwise.
import * as crypto from "crypto";
import * as tls from "tls";
import { CA_VALIDITY_DAYS, RegistryCertificateInputs, RegistryCertificateOuts, RegistryCertificateProvider } from "../../providers/local/registry-certificate";
import { roundTripProvider } from "../support/quay";

const DAY = 86_400_000;
const HOST = "quay.v7.comptech-lab.com";
const T0 = Date.parse("2026-12-01T00:00:00Z");

const inputs = (hostname = HOST): RegistryCertificateInputs => ({ hostname, validityDays: 365, renewBeforeDays: 30 });

function verifies(outs: RegistryCertificateOuts, hostname: string, at: number): void {
  const ca = new crypto.X509Certificate(outs.caCertificate);
  const leaf = new crypto.X509Certificate(outs.certificate);
  expect(ca.ca).toBe(true);
  expect(leaf.ca).toBe(false);
  expect(ca.verify(ca.publicKey)).toBe(true);
  expect(leaf.checkIssued(ca)).toBe(true);
  expect(leaf.verify(ca.publicKey)).toBe(true);
  expect(leaf.checkHost(hostname)).toBe(hostname);
  expect(leaf.checkHost("other.example.com")).toBeUndefined();
  expect(leaf.checkPrivateKey(crypto.createPrivateKey(outs.privateKey))).toBe(true);
  expect(ca.checkPrivateKey(crypto.createPrivateKey(outs.caPrivateKey))).toBe(true);
  expect(Date.parse(leaf.validFrom)).toBeLessThanOrEqual(at);
  expect(Date.parse(leaf.validTo)).toBeGreaterThan(at);
  expect(leaf.keyUsage ?? []).toContain("1.3.6.1.5.5.7.3.1"); // serverAuth
}

describe("local:RegistryCertificate", () => {
  let now = T0;
  const p = new RegistryCertificateProvider(() => now);

  it("creates a CA (10 years) and a 365-day server certificate for the hostname that verifies against it", async () => {
    now = T0;
    const { outs } = await p.create(inputs());
    verifies(outs!, HOST, T0);
    expect(Date.parse(outs!.notAfter)).toBe(T0 + 365 * DAY);
    expect(Date.parse(outs!.caNotAfter)).toBe(T0 + CA_VALIDITY_DAYS * DAY);
    expect(Date.parse(new crypto.X509Certificate(outs!.caCertificate).validTo)).toBe(T0 + CA_VALIDITY_DAYS * DAY);
    expect(outs!.privateKey).toMatch(/^-{5}BEGIN PRIVATE KEY-{5}\n/);
    expect(outs!.caPrivateKey).toMatch(/^-{5}BEGIN PRIVATE KEY-{5}\n/);
    expect(outs!.privateKey).not.toBe(outs!.caPrivateKey);
    // A second resource gets its own CA.
    const other = await p.create(inputs());
    expect(other.outs!.caCertificate).not.toBe(outs!.caCertificate);
  });

  it("an IP address as the hostname gets an IP subjectAltName too", async () => {
    now = T0;
    const { outs } = await p.create(inputs("10.0.0.20"));
    const leaf = new crypto.X509Certificate(outs!.certificate);
    expect(leaf.subjectAltName).toContain("IP Address:10.0.0.20");
    expect(leaf.checkIP("10.0.0.20")).toBe("10.0.0.20");
    expect(leaf.verify(new crypto.X509Certificate(outs!.caCertificate).publicKey)).toBe(true);
  });

  it("a rerun: no change, no replacement; read returns the state as it is", async () => {
    now = T0;
    const { id, outs } = await p.create(inputs());
    now = T0 + 300 * DAY; // 65 days left
    expect(await p.diff(id, outs!, (await p.check(inputs(), inputs())).inputs!)).toEqual({ changes: false });
    const read = await p.read(id, outs!);
    expect(read.props).toEqual(outs);
  });

  it("inside the renewal window: an update (never a replace) re-issues the certificate, same CA, new key", async () => {
    now = T0;
    const { id, outs } = await p.create(inputs());
    now = T0 + 336 * DAY; // 29 days left
    const diff = await p.diff(id, outs!, inputs());
    expect(diff.changes).toBe(true);
    expect(diff.replaces ?? []).toEqual([]);
    const { outs: renewed } = await p.update(id, outs!, inputs());
    expect(renewed!.caCertificate).toBe(outs!.caCertificate);
    expect(renewed!.caPrivateKey).toBe(outs!.caPrivateKey);
    expect(renewed!.certificate).not.toBe(outs!.certificate);
    expect(renewed!.privateKey).not.toBe(outs!.privateKey);
    expect(Date.parse(renewed!.notAfter)).toBe(now + 365 * DAY);
    verifies(renewed!, HOST, now);
    // And the renewed one is quiet again.
    expect(await p.diff(id, renewed!, inputs())).toEqual({ changes: false });
  });

  it("a new hostname: re-issued for it with the same CA; a new window alone only records the setting", async () => {
    now = T0;
    const { id, outs } = await p.create(inputs());
    const diff = await p.diff(id, outs!, inputs("registry.example.com"));
    expect(diff).toMatchObject({ changes: true, replaces: [] });
    const { outs: moved } = await p.update(id, outs!, inputs("registry.example.com"));
    expect(moved!.caCertificate).toBe(outs!.caCertificate);
    verifies(moved!, "registry.example.com", now);
    const { outs: same } = await p.update(id, outs!, { ...inputs(), renewBeforeDays: 60 });
    expect(same!.certificate).toBe(outs!.certificate);
    expect(same!.renewBeforeDays).toBe(60);
  });

  it("never issues past the CA's own expiry", async () => {
    now = T0;
    const { id, outs } = await p.create(inputs());
    now = Date.parse(outs!.caNotAfter) - 100 * DAY;
    const { outs: late } = await p.update(id, { ...outs!, notAfter: new Date(now).toISOString() }, inputs());
    expect(late!.notAfter).toBe(outs!.caNotAfter);
    verifies(late!, HOST, now);
  });

  it("a TLS client verifying against the CA accepts the server with the certificate (OpenSSL's chain check)", async () => {
    now = Date.now();
    const { outs } = await p.create(inputs());
    const server = tls.createServer({ cert: outs!.certificate, key: outs!.privateKey }, (s) => s.end("ok"));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const attempt = (ca: string, servername: string) =>
      new Promise<string>((resolve) => {
        const c = tls.connect({ host: "127.0.0.1", port, ca, servername }, () => {
          resolve(c.authorized ? "authorized" : String(c.authorizationError));
          c.destroy();
        });
        c.on("error", (e) => {
          resolve(e.message);
          c.destroy();
        });
      });
    try {
      expect(await attempt(outs!.caCertificate, HOST)).toBe("authorized");
      expect(await attempt(outs!.caCertificate, "other.example.com")).toMatch(/Hostname\/IP does not match/);
      const stranger = (await p.create(inputs())).outs!.caCertificate;
      expect(await attempt(stranger, HOST)).toMatch(/unable to (verify|get local issuer)/);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it("rejects a bad hostname, validity or window", async () => {
    expect((await p.check(inputs(), { hostname: "a b" } as never)).failures?.[0]?.property).toBe("hostname");
    expect((await p.check(inputs(), { hostname: HOST, validityDays: 0 } as never)).failures?.[0]?.property).toBe("validityDays");
    expect((await p.check(inputs(), { hostname: HOST, validityDays: 30, renewBeforeDays: 30 } as never)).failures?.[0]?.property).toBe("renewBeforeDays");
    expect((await p.check(inputs(), { hostname: HOST } as never)).inputs).toEqual({ hostname: HOST, validityDays: 365, renewBeforeDays: 30 });
  });

  it("serializes without a secret and works after the round trip", async () => {
    const { provider, containsSecrets } = await roundTripProvider(RegistryCertificateProvider.instance);
    expect(containsSecrets).toBe(false);
    const { outs } = await provider.create(inputs());
    verifies(outs as RegistryCertificateOuts, HOST, Date.now());
  });
});
