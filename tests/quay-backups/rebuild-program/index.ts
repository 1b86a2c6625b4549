// Program for tests/quay-backups/rebuild-e2e.test.ts: ObjectStorage, QuayHost and QuayBackups wired as
// components/program.ts wires them (QuayBackups after the host's postgres, config and tools steps; with
// restoreFrom, Quay's first start waits for the restore step through restoreGate), on a disposable test host,
// against a real MinIO. Stack config (project namespace): host, port, user, hostKey, privateKey (secret),
// imageArchive, proxyAddress, mcBinary, minioLocal (the endpoint this machine's mc uses), minioHost (the name
// the guests resolve to MinIO), minioPort, minioRootUser, minioRootPassword (secret), restoreFrom,
// restoreOverwrite.
import * as pulumi from "@pulumi/pulumi";
import { ObjectStorage } from "../../../components/object-storage";
import { QuayHost } from "../../../components/quay-host";
import { QuayBackups, restoreGate } from "../../../components/quay-backups";

export default function rebuildProgram(): Record<string, pulumi.Output<unknown>> {
  const cfg = new pulumi.Config();
  const minioHost = cfg.require("minioHost");
  const minioPort = cfg.requireNumber("minioPort");
  const restoreFrom = cfg.get("restoreFrom");
  const storage = new ObjectStorage("minio", {
    connection: { endpoint: cfg.require("minioLocal"), accessKey: cfg.require("minioRootUser"), secretKey: cfg.requireSecret("minioRootPassword"), mcPath: cfg.require("mcBinary") },
  });
  const gate = restoreFrom !== undefined ? restoreGate() : undefined;
  const host = new QuayHost(
    "quay",
    {
      connection: { host: cfg.require("host"), port: cfg.requireNumber("port"), user: cfg.require("user"), privateKey: cfg.requireSecret("privateKey"), hostKey: cfg.require("hostKey") },
      serverHostname: "quay.test.example",
      imageArchive: cfg.require("imageArchive"),
      quayVersion: "v3.18.0",
      proxyAddress: cfg.require("proxyAddress"),
      storage: { hostname: minioHost, port: minioPort, bucket: "quay-storage", accessKey: storage.storageCredentials.accessKey, secretKey: storage.storageCredentials.secretKey },
      tools: { mcBinary: cfg.require("mcBinary") },
      healthTimeoutSeconds: 120,
      secretGenerator: "node-crypto",
      purgeOnDestroy: true,
      ...(gate ? { startAfter: gate.startAfter } : {}),
    },
    { dependsOn: [storage] },
  );
  let backups: QuayBackups;
  try {
    backups = new QuayBackups("backups", {
      connection: host.connection,
      after: [host.steps.postgres!, host.steps.config!, host.steps.tools!],
      mcPath: host.mcPath,
      endpoint: `http://${minioHost}:${minioPort}`,
      backupCredentials: storage.backupCredentials,
      restoreCredentials: storage.restoreCredentials,
      ...(restoreFrom !== undefined ? { restoreFrom, restoreOverwrite: cfg.getBoolean("restoreOverwrite") ?? false } : {}),
    });
  } catch (e) {
    gate?.fail("QuayBackups was not declared");
    throw e;
  }
  gate?.open(backups);
  return {
    backupPassphrase: backups.backupPassphrase,
    bootstrapToken: host.bootstrapToken,
    superuserPassword: host.superuserPassword,
    storageCredentials: pulumi.secret(storage.storageCredentials),
  };
}
