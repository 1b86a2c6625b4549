// Program for tests/quay-backups/engine-e2e.test.ts: ObjectStorage (the MinIO buckets and users), QuayHost
// (with the MinIO client and the storage preflight) and QuayBackups on a disposable test host, through the
// real engine, against a real MinIO. Stack config (project namespace): host, port, user, hostKey, privateKey
// (secret), imageArchive, proxyAddress, mcBinary (the mc uploaded to the host, also the one Pulumi runs),
// minioHost, minioPort, minioRootUser, minioRootPassword (secret), extraTitle.
import * as pulumi from "@pulumi/pulumi";
import { ObjectStorage } from "../../../components/object-storage";
import { QuayHost } from "../../../components/quay-host";
import { QuayBackups } from "../../../components/quay-backups";

export default function quayBackupsProgram(): Record<string, pulumi.Output<unknown>> {
  const cfg = new pulumi.Config();
  const minioHost = cfg.require("minioHost");
  const minioPort = cfg.requireNumber("minioPort");
  const endpoint = `http://${minioHost}:${minioPort}`;
  const storage = new ObjectStorage("minio", {
    connection: { endpoint, accessKey: cfg.require("minioRootUser"), secretKey: cfg.requireSecret("minioRootPassword"), mcPath: cfg.require("mcBinary") },
  });
  const host = new QuayHost("quay", {
    connection: { host: cfg.require("host"), port: cfg.requireNumber("port"), user: cfg.require("user"), privateKey: cfg.requireSecret("privateKey"), hostKey: cfg.require("hostKey") },
    serverHostname: "quay.test.example",
    imageArchive: cfg.require("imageArchive"),
    quayVersion: "v3.18.0",
    proxyAddress: cfg.require("proxyAddress"),
    storage: { hostname: minioHost, port: minioPort, bucket: "quay-storage", accessKey: storage.storageCredentials.accessKey, secretKey: storage.storageCredentials.secretKey },
    tools: { mcBinary: cfg.require("mcBinary") },
    extraConfig: { REGISTRY_TITLE: cfg.get("extraTitle") ?? "first" },
    healthTimeoutSeconds: 120,
    secretGenerator: "node-crypto",
    purgeOnDestroy: true,
  });
  const backups = new QuayBackups("backups", {
    connection: host.connection,
    after: [host.steps.postgres!, host.steps.config!, host.steps.tools!, host.steps.unit!],
    mcPath: host.mcPath,
    endpoint,
    backupCredentials: storage.backupCredentials,
    restoreCredentials: storage.restoreCredentials,
  });
  return {
    backupPassphrase: backups.backupPassphrase,
    backupLocation: backups.location,
    // for the test's own checks (secret outputs)
    storageCredentials: pulumi.secret(storage.storageCredentials),
    backupCredentials: pulumi.secret(storage.backupCredentials),
    restoreCredentials: pulumi.secret(storage.restoreCredentials),
  };
}
