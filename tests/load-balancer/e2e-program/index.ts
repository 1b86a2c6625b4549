// Program for tests/load-balancer/engine-e2e.test.ts: one LoadBalancer on a disposable test host, through the
// real engine. Stack config (project namespace): host, port, user, hostKey, privateKey (secret), certificate,
// tlsKey (secret), backendAddress, backendPort.
import * as pulumi from "@pulumi/pulumi";
import { LoadBalancer } from "../../../components/load-balancer";

export default function loadBalancerProgram(): Record<string, pulumi.Output<unknown>> {
  const cfg = new pulumi.Config();
  const lb = new LoadBalancer("lb", {
    connection: { host: cfg.require("host"), port: cfg.requireNumber("port"), user: cfg.require("user"), privateKey: cfg.requireSecret("privateKey"), hostKey: cfg.require("hostKey") },
    registryHostname: "quay.test.example",
    backends: [{ address: cfg.require("backendAddress"), port: cfg.requireNumber("backendPort") }],
    certificate: cfg.require("certificate"),
    privateKey: cfg.requireSecret("tlsKey"),
    bootTimeoutSeconds: 120,
  });
  return { url: lb.url, configSha256: lb.configSha256 };
}
