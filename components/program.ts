// The whole program as one function: read and validate every input, then declare. index.ts calls it;
// end-to-end tests call it inline with their own stack config.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ProgramInputs, loadProgramInputs, rawStackConfig } from "../config/program";
import { parseQuayHostArgs } from "../config/quay-host";
import { ApiToken } from "../providers/quay/api-token";
import { MirrorRegistry } from "./mirror-registry";
import { QuayHost, QuayHostArgs } from "./quay-host";

/** Stack config keys that hold secrets (read with requireSecret, never validated as plain values). */
export const SECRET_KEYS = ["sshPrivateKey", "storageSecretKey"];

/** Where the long-lived API token's OAuth application lives (the host's sign-in path uses it too). */
export const AUTOMATION_ORGANIZATION = "quay-mirror-bootstrap";

/**
 * Full mode: the host from `quay-mirror:host` plus the secrets, checked with QuayHost's schema so a
 * mistake names the stack file and the key.
 */
function declareHost(inputs: ProgramInputs): QuayHost {
  const cfg = new pulumi.Config("quay-mirror");
  const host = (inputs.config.host ?? {}) as Record<string, Record<string, unknown> | unknown>;
  const args = {
    ...host,
    serverHostname: (host.serverHostname as string | undefined) ?? inputs.config.registryHostname,
    proxyCache: inputs.config.proxyCaches !== undefined,
    connection: { ...((host.connection as object) ?? {}), privateKey: cfg.requireSecret("sshPrivateKey") },
    storage: { ...((host.storage as object) ?? {}), secretKey: cfg.requireSecret("storageSecretKey") },
    bootstrap: { organization: AUTOMATION_ORGANIZATION, ...((host.bootstrap as object) ?? {}) },
    // The random plugin cannot be built on these machines; the crypto-based generator needs no plugin.
    secretGenerator: "node-crypto",
  } as unknown as QuayHostArgs;
  // Fails with every problem, each as a JSON path under quay-mirror:host in the stack file.
  parseQuayHostArgs(args, `${inputs.stackFile} (quay-mirror:host; secrets quay-mirror:sshPrivateKey, quay-mirror:storageSecretKey)`);
  return new QuayHost("quay", args);
}

export interface QuayMirrorOutputs {
  apiUrl: pulumi.Input<string>;
  registryHostname: string;
  pullSecret: pulumi.Output<string>;
  mirrorCredentials: pulumi.Output<Record<string, string>>;
  robotCredentials: pulumi.Output<Record<string, { username: string; password: string }>>;
  proxyCacheMirrors: { upstream: string; organization: string; mirror: string }[];
}

export function quayMirror(projectDir: string = process.cwd()): QuayMirrorOutputs {
  const stackFile = `Pulumi.${pulumi.getStack()}.yaml`;
  const inputs = loadProgramInputs(rawStackConfig(pulumi.runtime.allConfig(), "quay-mirror", SECRET_KEYS), projectDir, path.join(projectDir, stackFile));
  const { config } = inputs;

  let apiUrl: pulumi.Input<string>;
  let token: pulumi.Input<string>;
  const dependsOn: pulumi.Resource[] = [];
  if (config.mode === "existing") {
    apiUrl = config.apiUrl!.replace(/\/+$/, "");
    token = new pulumi.Config("quay").requireSecret("token");
  } else {
    const host = declareHost(inputs);
    // Behind the TLS proxy by default; tests and operators on the proxy's network may give the host's :8080.
    apiUrl = (config.apiUrl ?? `https://${config.registryHostname}`).replace(/\/+$/, "");
    // The initialize token lasts 2.5 h: mint a long-lived one right away and use it for everything else.
    const apiToken = new ApiToken(
      "api-token",
      { connection: { endpoint: apiUrl, token: host.bootstrapToken }, organization: AUTOMATION_ORGANIZATION, createOrganization: true, name: "quay-mirror" },
      { dependsOn: [host.ready] },
    );
    token = apiToken.token;
    dependsOn.push(host.ready);
  }

  const registry = new MirrorRegistry("mirror", { inputs, connection: { endpoint: apiUrl, token } }, { dependsOn });
  return {
    apiUrl,
    registryHostname: config.registryHostname,
    pullSecret: registry.pullSecret,
    mirrorCredentials: registry.mirrorCredentials,
    robotCredentials: registry.robotCredentials,
    proxyCacheMirrors: registry.proxyCacheMirrors,
  };
}
