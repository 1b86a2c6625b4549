// One local:RegistryCertificate (the load balancer's generated CA and certificate) for the engine test
// tests/providers/registry-certificate-engine.test.ts: the hostname comes from stack config; the outputs are
// the public PEMs, the expiry and the two keys (secret outputs, as the program's registryCaKey is).
import * as pulumi from "@pulumi/pulumi";
import { RegistryCertificate } from "../../../providers/local/registry-certificate";

export default function registryCertificateProgram() {
  const cfg = new pulumi.Config();
  const tls = new RegistryCertificate("registry-tls", { hostname: cfg.require("hostname") });
  return {
    caCertificate: tls.caCertificate,
    certificate: tls.certificate,
    notAfter: tls.notAfter,
    registryCaKey: tls.caPrivateKey,
    privateKey: tls.privateKey,
  };
}
