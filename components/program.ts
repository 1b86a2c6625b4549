// The whole program as one function: read and validate every input, then declare. index.ts calls it;
// end-to-end tests call it inline with their own stack config.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { loadProgramInputs, rawStackConfig } from "../config/program";
import { MirrorRegistry } from "./mirror-registry";

/** Stack config keys that hold secrets (read with requireSecret, never validated as plain values). */
export const SECRET_KEYS = ["sshPrivateKey", "storageSecretKey"];

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
  if (config.mode === "existing") {
    apiUrl = config.apiUrl!.replace(/\/+$/, "");
    token = new pulumi.Config("quay").requireSecret("token");
  } else {
    throw new Error(`${stackFile}: quay-mirror:mode "full" needs the QuayHost component, which this build does not include yet`);
  }

  const registry = new MirrorRegistry("mirror", { inputs, connection: { endpoint: apiUrl, token } });
  return {
    apiUrl,
    registryHostname: config.registryHostname,
    pullSecret: registry.pullSecret,
    mirrorCredentials: registry.mirrorCredentials,
    robotCredentials: registry.robotCredentials,
    proxyCacheMirrors: registry.proxyCacheMirrors,
  };
}
