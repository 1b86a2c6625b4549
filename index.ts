// quay-mirror: stands up and governs the Quay registry that disconnected OpenShift clusters pull from.
// This file only composes; see components/program.ts.
import * as path from "path";
import { quayMirror } from "./components/program";

// Compiled to bin/index.js; the engine may run it with bin/ as the working directory.
const outputs = quayMirror(path.resolve(__dirname, ".."));

/** Quay's API base URL. */
export const apiUrl = outputs.apiUrl;
/** The hostname clusters pull from. */
export const registryHostname = outputs.registryHostname;
/** dockerconfigjson for install-config.yaml's `pullSecret` (secret). */
export const pullSecret = outputs.pullSecret;
/** Per mirror organization, the auth.json oc-mirror pushes with (secret). */
export const mirrorCredentials = outputs.mirrorCredentials;
/** Every robot's username and token (secret). */
export const robotCredentials = outputs.robotCredentials;
/** Pull-through caches: upstream → mirror path. */
export const proxyCacheMirrors = outputs.proxyCacheMirrors;
/** The fragment to merge into install-config.yaml: pullSecret, additionalTrustBundle, imageDigestSources (secret). */
export const installConfig = outputs.installConfig;
/** The CA that signed the registry's certificate (PEM): quay-mirror:additionalTrustBundleFile's, or the CA the stack generated. */
export const additionalTrustBundle = outputs.additionalTrustBundle;
// registryCaKey: the generated CA's private key (secret), when the stack generates the registry's certificate:
// keep a copy in custody. Exported only then: an undefined export would add a warning to every other stack's preview.
if (outputs.registryCaKey !== undefined) (exports as Record<string, unknown>).registryCaKey = outputs.registryCaKey;
/** MinIO's endpoint, buckets and users' access keys, when the stack manages object storage (no secrets). */
export const objectStorage = outputs.objectStorage;
/** The backup encryption passphrase (secret), when backups are on: keep a copy in custody. */
export const backupPassphrase = outputs.backupPassphrase;
/** Where backups land and the systemd units that make them and prove them restorable. */
export const backups = outputs.backups;
