// Program for tests/quay-backups/rebuild-e2e.test.ts: ObjectStorage, QuayHost and QuayBackups wired as
// components/program.ts wires them (QuayBackups after the host's postgres, config and tools steps; with
// restoreFrom, Quay's first start waits for the restore step through restoreGate), on a disposable test host,
// against a real MinIO. Stack config (project namespace): host, port, user, hostKey, privateKey (secret),
// imageArchive, proxyAddress, mcBinary, minioLocal (the endpoint this machine's mc uses), minioHost (the name
// the guests resolve to MinIO), minioPort, minioRootUser, minioRootPassword (secret), restoreFrom,
// restoreOverwrite, apiUrl (where this machine reaches Quay's API: one address for host A and, after the
// rebuild, host B). The Quay objects as components/program.ts makes them: the stack's long-lived ApiToken
// (minted with the host's bootstrap token), an organization, two robots (write and read on its repository)
// and the cluster pull user (read on every repository of the organization).
import * as pulumi from "@pulumi/pulumi";
import { ObjectStorage } from "../../../components/object-storage";
import { QuayHost } from "../../../components/quay-host";
import { QuayBackups, restoreGate } from "../../../components/quay-backups";
import { ClusterPullUser } from "../../../components/cluster-pull-user";
import { ApiToken } from "../../../providers/quay/api-token";
import { Organization } from "../../../providers/quay/organization";
import { Repository } from "../../../providers/quay/repository";
import { RepositoryPermission } from "../../../providers/quay/repository-permission";
import { RobotAccount } from "../../../providers/quay/robot";

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

  const apiUrl = cfg.require("apiUrl");
  const apiToken = new ApiToken(
    "api-token",
    { connection: { endpoint: apiUrl, token: host.bootstrapToken }, organization: "quay-mirror-bootstrap", createOrganization: true, name: "quay-mirror" },
    { dependsOn: [host.ready] },
  );
  const connection = { endpoint: apiUrl, token: apiToken.token };
  const org = new Organization("org", { connection, name: "rebuild" });
  const pullUser = new ClusterPullUser("pull", { connection, username: "rebuild_pull", namespaces: [org.name] });
  const repo = new Repository("repo", { connection, namespace: org.name, name: "tiny", visibility: "private" }, { dependsOn: pullUser.defaultPermissions });
  const robots = (["pusher", "reader"] as const).map((short) => new RobotAccount(`robot-${short}`, { connection, namespace: org.name, name: short }));
  robots.forEach(
    (robot, i) =>
      new RepositoryPermission(`perm-${i}`, { connection, namespace: org.name, repository: repo.name, kind: "robot", name: robot.fullName, role: i === 0 ? "write" : "read" }),
  );
  return {
    apiToken: pulumi.secret(apiToken.token),
    robotCredentials: pulumi.secret(pulumi.all(robots.map((r) => pulumi.all([r.fullName, r.token]))).apply((rs) => rs.map(([username, password]) => ({ username, password })))),
    pullCredential: pulumi.secret(pulumi.all([pullUser.username, pullUser.password]).apply(([username, password]) => ({ username, password }))),
    backupPassphrase: backups.backupPassphrase,
    bootstrapToken: host.bootstrapToken,
    superuserPassword: host.superuserPassword,
    storageCredentials: pulumi.secret(storage.storageCredentials),
  };
}
