// The verify command's checks, in order: the host (services, health, local discovery), discovery through
// the API URL and the registry hostname, the model applied, the access model, the backups. Read-only from end
// to end. Everything it needs comes in as values (the stack's config, outputs and state, read by
// scripts/verify.ts through the pulumi CLI), so tests run it against any stack.
import { loadProgramInputs } from "../../config/program";
import { joinRobotName } from "../../config/model";
import { QuayClient } from "../../providers/quay/client";
import { checkAccess, checkDiscovery, checkRegistryRoot, credentialFromDockerConfig } from "./access";
import { DEFAULT_LIMITS, HostLimits, HostRunner, hostCommand, hostPlan, judgeHost, sshRunner, sshTargetFromConfig, SshTarget } from "./host";
import { StateResource, checkModel, quayResources } from "./model";
import { CheckLine, Redactor, errorText, fail, skip } from "./report";

export interface VerifyInput {
  /** Where Pulumi.yaml is: relative paths of the stack config (modelFile, mappings, knownHostsFile) are relative to it. */
  projectDir: string;
  /** The stack settings file, named in messages. */
  stackFile: string;
  /** `quay-mirror:*` values (JSON decoded), without the secrets. */
  config: Record<string, unknown>;
  /** The secrets verify may use: quay-mirror:sshPrivateKey (full mode without an agent). */
  sshPrivateKey?: string;
  /** `pulumi stack output --json --show-secrets`. */
  outputs: Record<string, unknown>;
  /** The state's resources, secrets decoded. */
  resources: StateResource[];
  /** Where the registry hostname is reached from here (default https://<registryHostname>). */
  registryUrl?: string;
  limits?: HostLimits;
  /** Tests replace OpenSSH. */
  connect?: (target: SshTarget) => Promise<{ runner: HostRunner; cleanup: () => void }>;
}

export interface VerifyResult {
  lines: CheckLine[];
  redactor: Redactor;
  mode: "full" | "existing";
}

/** Every secret value verify holds, so no line can print one. */
function collectSecrets(input: VerifyInput, redactor: Redactor): void {
  const walk = (v: unknown) => {
    if (typeof v === "string") redactor.add(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") Object.values(v).forEach(walk);
  };
  const o = input.outputs;
  for (const k of ["pullSecret", "mirrorCredentials", "robotCredentials", "backupPassphrase"]) {
    const v = o[k];
    if (typeof v === "string") {
      redactor.add(v);
      try {
        const auths = (JSON.parse(v) as { auths?: Record<string, { auth?: string }> }).auths ?? {};
        for (const a of Object.values(auths)) {
          redactor.add(a.auth);
          if (a.auth) redactor.add(Buffer.from(a.auth, "base64").toString("utf8").split(":").slice(1).join(":"));
        }
      } catch {
        // not JSON
      }
    } else if (k === "robotCredentials" && v && typeof v === "object") {
      for (const c of Object.values(v as Record<string, { username?: string; password?: string }>)) {
        redactor.add(c.password);
        if (c.password) redactor.add(Buffer.from(`${c.username}:${c.password}`).toString("base64"));
      }
    } else if (k === "mirrorCredentials" && v && typeof v === "object") {
      walk(v);
    }
  }
  for (const r of input.resources) {
    const out = r.outputs ?? {};
    redactor.add((out.connection as { token?: string } | undefined)?.token, out.token as string | undefined, out.password as string | undefined, out.result as string | undefined, out.upstreamPassword as string | undefined);
  }
  redactor.add(input.sshPrivateKey);
}

/** The token the program governs Quay with: the connection its Quay resources were last applied with. */
function apiToken(resources: StateResource[]): string | undefined {
  for (const r of quayResources(resources)) {
    if (r.type.endsWith(":ApiToken")) continue;
    const t = (r.outputs?.connection as { token?: unknown } | undefined)?.token;
    if (typeof t === "string" && t) return t;
  }
  return undefined;
}

export async function runVerify(input: VerifyInput): Promise<VerifyResult> {
  const redactor = new Redactor();
  collectSecrets(input, redactor);
  const inputs = loadProgramInputs(input.config, input.projectDir, input.stackFile);
  const { config, model } = inputs;
  const lines: CheckLine[] = [];
  const backupLines: CheckLine[] = [];
  const apiUrl = String(input.outputs.apiUrl ?? config.apiUrl ?? `https://${config.registryHostname}`).replace(/\/+$/, "");
  const registryUrl = (input.registryUrl ?? `https://${config.registryHostname}`).replace(/\/+$/, "");

  // 1. The host.
  if (config.mode === "existing") {
    lines.push(skip("host: units quay, postgresql, redis-server, backup timers; /health/instance; discovery on the host", "existing mode (quay-mirror:mode existing): this stack provisions no host, so it has no SSH connection to check it with"));
    backupLines.push(skip("backups: latest backup and last restore proof", "existing mode: backups run on the host a full-mode stack provisions"));
  } else {
    const backupUnits = (input.outputs.backups as { units?: { backup: string; restoreValidate: string } } | undefined)?.units;
    const target = sshTargetFromConfig(config.host as Record<string, unknown> | undefined, input.sshPrivateKey, input.projectDir);
    const user = "problem" in target ? "root" : target.user;
    const plan = hostPlan(user, backupUnits);
    let hostLines: CheckLine[];
    if ("problem" in target) {
      hostLines = judgeHost(plan, { code: 255, stdout: "", stderr: target.problem });
    } else {
      let session: { runner: HostRunner; cleanup: () => void } | undefined;
      try {
        session = await (input.connect ?? ((t) => sshRunner(t)))(target);
        hostLines = judgeHost(plan, await session.runner(hostCommand(plan)), input.limits ?? DEFAULT_LIMITS);
      } catch (e) {
        hostLines = judgeHost(plan, { code: 255, stdout: "", stderr: errorText(e) });
      } finally {
        session?.cleanup();
      }
    }
    lines.push(...hostLines.filter((l) => !l.what.startsWith("backups:")));
    backupLines.push(...hostLines.filter((l) => l.what.startsWith("backups:")));
    if (!backupUnits) {
      backupLines.push(
        config.backups
          ? fail("backups: latest backup and last restore proof", "quay-mirror:backups is set but the stack's outputs name no backup units (not applied yet) — fix: bash scripts/pulumi.sh up")
          : skip("backups: latest backup and last restore proof", "backups are off in this stack (no quay-mirror:backups)"),
      );
    }
  }

  // 2. Discovery, through the API URL the program uses and through the registry hostname clients use.
  if (apiUrl !== registryUrl) lines.push(await checkDiscovery(`discovery: API at ${apiUrl}`, apiUrl));
  lines.push(await checkDiscovery(`discovery: ${config.registryHostname} (${registryUrl}) /api/v1/discovery`, registryUrl));
  lines.push(await checkRegistryRoot(`discovery: ${config.registryHostname} (${registryUrl}) GET /v2/ asks for a Quay token`, registryUrl, config.registryHostname));

  // 3. The model applied.
  const quay = quayResources(input.resources);
  if (quay.length === 0) lines.push(fail("model: the stack's Quay objects", "the stack's state holds none — fix: bash scripts/pulumi.sh up"));
  else lines.push(...(await checkModel(input.resources)));

  // 4. The access model.
  const token = apiToken(input.resources);
  if (!token) {
    lines.push(fail("access: mirror robots and the pull user", "no API token in the stack's state to list repositories with — fix: bash scripts/pulumi.sh up"));
  } else {
    const robots = (input.outputs.robotCredentials ?? {}) as Record<string, { username: string; password: string }>;
    const pullSecret = typeof input.outputs.pullSecret === "string" ? input.outputs.pullSecret : undefined;
    const pull = model.clusterPullUser;
    try {
      lines.push(
        ...(await checkAccess({
          registryUrl,
          service: config.registryHostname,
          admin: new QuayClient({ endpoint: apiUrl, token, retries: 2 }),
          organizations: model.organizations.map((o) => o.name),
          mirrorRobots: model.robots.filter((r) => r.mirror).map((r) => ({ name: joinRobotName(r), credential: robots[joinRobotName(r)] })),
          pullUser: pull ? { username: pull.username, namespaces: pull.namespaces, credential: pullSecret ? credentialFromDockerConfig(pullSecret, config.registryHostname) : undefined } : undefined,
        })),
      );
    } catch (e) {
      lines.push(fail("access: mirror robots and the pull user", errorText(e)));
    }
  }

  // 5. The backups.
  lines.push(...backupLines);
  return { lines, redactor, mode: config.mode };
}
