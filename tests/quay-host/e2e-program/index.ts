// Program for tests/quay-host/engine-e2e.test.ts: one QuayHost on a disposable test host, through the
// real engine. Stack config (project namespace): host, port, user, hostKey, privateKey (secret),
// imageArchive, proxyAddress, healthTimeout, extraTitle (a config key to change between runs), renew
// (bootstrap.renew).
import * as pulumi from "@pulumi/pulumi";
import { QuayHost } from "../../../components/quay-host";

export default function quayHostProgram(): Record<string, pulumi.Output<unknown>> {
  const cfg = new pulumi.Config();
  const host = new QuayHost("quay", {
    connection: { host: cfg.require("host"), port: cfg.requireNumber("port"), user: cfg.require("user"), privateKey: cfg.requireSecret("privateKey"), hostKey: cfg.require("hostKey") },
    serverHostname: "quay.test.example",
    imageArchive: cfg.require("imageArchive"),
    quayVersion: "v3.18.0",
    proxyAddress: cfg.require("proxyAddress"),
    storage: { hostname: cfg.require("proxyAddress"), bucket: "quay-storage", accessKey: "quay-storage", secretKey: pulumi.secret("minio-secret'\"$(x)") },
    extraConfig: { REGISTRY_TITLE: cfg.get("extraTitle") ?? "first" },
    healthTimeoutSeconds: cfg.getNumber("healthTimeout") ?? 120,
    secretGenerator: "node-crypto",
    purgeOnDestroy: true,
    bootstrap: { renew: cfg.getNumber("renew") ?? 0 },
  });
  return {
    apiUrl: host.apiUrl,
    bootstrapToken: host.bootstrapToken,
    superuserPassword: host.superuserPassword,
    configSha256: host.configSha256,
  };
}
