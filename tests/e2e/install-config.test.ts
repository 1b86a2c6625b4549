// Issue 17, the install-config fragment, through the real engine (existing-registry mode against the
// emulator): with quay-mirror:idmsFile and quay-mirror:additionalTrustBundleFile set, the stack has an
// `installConfig` output that is secret and parses as YAML with pullSecret, additionalTrustBundle and
// imageDigestSources, and an `additionalTrustBundle` output; the pull secret is in the state only encrypted.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { findPlaintext, withEngineStack } from "../support/engine";
import { engineSuiteOnEmulator, existingLabConfig } from "../support/engine-suite";
import { ocMirrorIdms } from "../support/idms";

jest.setTimeout(300_000);

const HOST = "quay.v7.comptech-lab.com";

const IDMS = ocMirrorIdms(HOST);

describe("the installConfig output through the real engine", () => {
  const suite = engineSuiteOnEmulator({ tempPrefix: "qm-install-config-e2e-" });
  beforeAll(() => {
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path.join(suite.dir, "ca.key"), "-out", path.join(suite.dir, "ca.pem"), "-days", "2", "-subj", "/CN=test mirror CA"], { stdio: "ignore" });
    fs.writeFileSync(path.join(suite.dir, "idms-oc-mirror.yaml"), IDMS);
  });

  test("installConfig is secret and holds pullSecret, additionalTrustBundle and imageDigestSources; additionalTrustBundle is the CA", async () => {
    const ca = fs.readFileSync(path.join(suite.dir, "ca.pem"), "utf8");
    await withEngineStack(
      {
        program: "lab",
        config: existingLabConfig(suite.quay, HOST, {
          "quay-mirror:idmsFile": path.join(suite.dir, "idms-oc-mirror.yaml"),
          "quay-mirror:additionalTrustBundleFile": path.join(suite.dir, "ca.pem"),
        }),
        secrets: { "quay:token": suite.quay.connection.token },
      },
      async (stack) => {
        const up = await stack.up();
        const out = up.outputs.installConfig;
        expect(out).toBeDefined();
        expect(out.secret).toBe(true);
        const fragment = YAML.parse(out.value as string) as Record<string, unknown>;
        expect(Object.keys(fragment)).toEqual(["pullSecret", "additionalTrustBundle", "imageDigestSources"]);
        // The same pull secret as the pullSecret output, with the cluster-pull user's credential for the host.
        expect(fragment.pullSecret).toBe(up.outputs.pullSecret.value);
        expect(Object.keys((JSON.parse(fragment.pullSecret as string) as { auths: object }).auths)).toEqual([HOST]);
        expect(fragment.additionalTrustBundle).toBe(ca);
        expect(fragment.imageDigestSources).toEqual([
          { source: "quay.io/openshift-release-dev/ocp-v4.0-art-dev", mirrors: [`${HOST}/openshift-release/openshift/release`] },
          { source: "quay.io/openshift-release-dev/ocp-release", mirrors: [`${HOST}/openshift-release/openshift/release-images`] },
        ]);
        expect(up.outputs.additionalTrustBundle).toEqual({ value: ca, secret: false });

        // The fragment (and the pull secret in it) is in the state only encrypted.
        const state = await stack.exportState();
        expect(findPlaintext(state, out.value as string)).toEqual([]);
        const password = Buffer.from(Object.values((JSON.parse(fragment.pullSecret as string) as { auths: Record<string, { auth: string }> }).auths)[0].auth, "base64").toString().split(":")[1];
        expect(findPlaintext(state, password)).toEqual([]);

        // Nothing changes on a second run.
        const again = await stack.preview();
        expect(Object.keys(again.summary)).toEqual(["same"]);
      },
    );
  });
});
