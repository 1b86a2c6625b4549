// local:RegistryCertificate under the real engine (tests/programs/registry-certificate): the CA key and the
// certificate's key are secret outputs, so the exported state (`pulumi stack export`, secrets encrypted) holds
// neither in plain text, nor the public PEMs' keys anywhere; a second `up` changes nothing; a new hostname is
// an update (never a replace) that keeps the CA and issues a certificate for the new name.
import * as crypto from "crypto";
import { findPlaintext, stepsFor, withEngineStack } from "../support/engine";

const TYPE = "pulumi-nodejs:dynamic/local:RegistryCertificate";

/** The base64 body lines of a PEM (each long enough to be a meaningful needle). */
const bodyLines = (pem: string): string[] => pem.split("\n").filter((l) => l.length >= 40 && !l.startsWith("-----"));

describe("local:RegistryCertificate in the engine", () => {
  test("keys never in plain text in the state; rerun no change; a new hostname keeps the CA", async () => {
    await withEngineStack({ program: "registry-certificate", config: { hostname: "quay.example.com" } }, async (stack) => {
      const up1 = await stack.up();
      expect(stepsFor(up1, "registry-tls", TYPE).map((s) => s.op)).toEqual(["create"]);
      expect(up1.outputs.registryCaKey!.secret).toBe(true);
      expect(up1.outputs.privateKey!.secret).toBe(true);
      expect(up1.outputs.caCertificate!.secret).toBe(false);
      const caKey = String(up1.outputs.registryCaKey!.value);
      const key = String(up1.outputs.privateKey!.value);
      const caPem = String(up1.outputs.caCertificate!.value);
      const ca = new crypto.X509Certificate(caPem);
      const leaf = new crypto.X509Certificate(String(up1.outputs.certificate!.value));
      expect(leaf.verify(ca.publicKey)).toBe(true);
      expect(leaf.checkHost("quay.example.com")).toBe("quay.example.com");
      expect(ca.checkPrivateKey(crypto.createPrivateKey(caKey))).toBe(true);

      const state = await stack.exportState();
      // The needles are real: the public CA is there in plain text, so the search does find what is stored plainly.
      expect(findPlaintext(state, bodyLines(caPem)[1]!).length).toBeGreaterThan(0);
      expect(bodyLines(caKey).length).toBeGreaterThan(0);
      for (const line of [...bodyLines(caKey), ...bodyLines(key)]) expect(findPlaintext(state, line)).toEqual([]);
      expect(findPlaintext(state, "PRIVATE KEY")).toEqual([]);

      const up2 = await stack.up();
      expect(up2.summary).toEqual({ same: 2 });

      await stack.setConfig("hostname", "registry.example.com");
      const up3 = await stack.up();
      expect(stepsFor(up3, "registry-tls", TYPE).map((s) => s.op)).toEqual(["update"]);
      expect(up3.outputs.caCertificate!.value).toBe(caPem);
      expect(up3.outputs.registryCaKey!.value).toBe(caKey);
      const moved = new crypto.X509Certificate(String(up3.outputs.certificate!.value));
      expect(moved.checkHost("registry.example.com")).toBe("registry.example.com");
      expect(moved.verify(ca.publicKey)).toBe(true);
      const key3 = String(up3.outputs.privateKey!.value);
      expect(key3).not.toBe(key);
      const state3 = await stack.exportState();
      for (const line of [...bodyLines(caKey), ...bodyLines(key3)]) expect(findPlaintext(state3, line)).toEqual([]);
    });
  }, 300_000);
});
