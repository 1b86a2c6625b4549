// The installConfig output's pure parts (config/install-config.ts): oc-mirror's ImageDigestMirrorSet →
// install-config's imageDigestSources, the trust bundle check, the YAML rendering; and the stack keys that
// name the files (quay-mirror:idmsFile, quay-mirror:additionalTrustBundleFile) through loadProgramInputs.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { ConfigError } from "../../config/errors";
import { loadImageDigestSources, parseImageDigestMirrorSets, parseTrustBundle, renderInstallConfig } from "../../config/install-config";
import { loadProgramInputs } from "../../config/program";
import { ocMirrorIdms } from "../support/idms";

const repoRoot = path.resolve(__dirname, "../..");
const HOST = "quay.v7.comptech-lab.com";

const IDMS = ocMirrorIdms(HOST, { operators: true });

function thrown(f: () => unknown): ConfigError {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

let dir: string;
let caPem: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "qm-install-config-"));
  // A throw-away CA made for this run (never committed).
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path.join(dir, "ca.key"), "-out", path.join(dir, "ca.pem"), "-days", "2", "-subj", "/CN=test mirror CA"], { stdio: "ignore" });
  caPem = fs.readFileSync(path.join(dir, "ca.pem"), "utf8");
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("ImageDigestMirrorSet → imageDigestSources", () => {
  test("every spec.imageDigestMirrors entry becomes {source, mirrors}, in order; mirrorSourcePolicy (no install-config field) is dropped", () => {
    expect(parseImageDigestMirrorSets(IDMS, "idms.yaml")).toEqual([
      { source: "quay.io/openshift-release-dev/ocp-v4.0-art-dev", mirrors: [`${HOST}/openshift-release/openshift/release`] },
      { source: "quay.io/openshift-release-dev/ocp-release", mirrors: [`${HOST}/openshift-release/openshift/release-images`] },
      { source: "registry.redhat.io/redhat", mirrors: [`${HOST}/openshift-operators/redhat`] },
    ]);
  });

  test("several documents: their entries are joined, one source's mirrors merged without repeats", () => {
    const second = `---\napiVersion: config.openshift.io/v1\nkind: ImageDigestMirrorSet\nmetadata: {name: idms-operator-0}\nspec:\n  imageDigestMirrors:\n  - source: registry.redhat.io/redhat\n    mirrors: [${HOST}/openshift-operators/redhat, mirror2.example.com/redhat]\n`;
    const sources = parseImageDigestMirrorSets(IDMS + second, "idms.yaml");
    expect(sources).toHaveLength(3);
    expect(sources[2]).toEqual({ source: "registry.redhat.io/redhat", mirrors: [`${HOST}/openshift-operators/redhat`, "mirror2.example.com/redhat"] });
  });

  test.each([
    ["not YAML", "apiVersion: config.openshift.io/v1\nkind: [ImageDigestMirrorSet\n", /idms\.yaml line \d+ column \d+: the ImageDigestMirrorSet file is not valid YAML/],
    ["empty", "", /idms\.yaml \$: the ImageDigestMirrorSet file is empty — fix: give the idms-oc-mirror\.yaml/],
    ["an ImageTagMirrorSet given instead", IDMS.replace("kind: ImageDigestMirrorSet", "kind: ImageTagMirrorSet"), /idms\.yaml \$\.kind: .*ImageDigestMirrorSet/],
    ["an ImageContentSourcePolicy (oc-mirror v1)", "apiVersion: operator.openshift.io/v1alpha1\nkind: ImageContentSourcePolicy\nspec:\n  repositoryDigestMirrors: []\n", /idms\.yaml \$\.apiVersion: .*\n.*idms\.yaml \$\.kind: .*\n.*idms\.yaml \$\.spec\.imageDigestMirrors: /],
    ["a mirror with a scheme", IDMS.replace(`- ${HOST}/openshift-release/openshift/release-images`, `- https://${HOST}/x`), /idms\.yaml \$\.spec\.imageDigestMirrors\[1\]\.mirrors\[0\]: must be a repository/],
    ["an entry without mirrors", IDMS.replace(`  - mirrors:\n    - ${HOST}/openshift-release/openshift/release\n`, "  - mirrors: []\n"), /idms\.yaml \$\.spec\.imageDigestMirrors\[0\]\.mirrors: an entry without mirrors/],
    ["the second document broken", IDMS + "---\nkind: ImageDigestMirrorSet\n", /idms\.yaml \$\[1\]\.apiVersion: /],
  ])("%s: a ConfigError naming the file and the place", (_what, text, expected) => {
    const e = thrown(() => parseImageDigestMirrorSets(text, "idms.yaml"));
    expect(e.message).toMatch(expected);
    expect(e.message).not.toMatch(/\n\s+at /);
  });

  test("a file that does not exist: the error names it", () => {
    const missing = path.join(dir, "no-such-idms.yaml");
    expect(thrown(() => loadImageDigestSources(missing)).message).toContain(`${missing} $: the ImageDigestMirrorSet file (oc-mirror's idms-oc-mirror.yaml) does not exist`);
  });
});

describe("trust bundle", () => {
  test("PEM certificates pass, normalised", () => {
    expect(parseTrustBundle(`# our CA\n${caPem.replace(/\n/g, "\r\n")}`, "ca.pem")).toBe(caPem.endsWith("\n") ? caPem : `${caPem}\n`);
    expect(parseTrustBundle(caPem + caPem, "ca.pem").match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
  });

  test.each([
    ["a private key", () => caPem + fs.readFileSync(path.join(dir, "ca.key"), "utf8"), /ca\.pem \$: the trust bundle holds a private key/],
    ["no certificate", () => "hello\n", /ca\.pem \$: the trust bundle holds no PEM certificate/],
    ["a broken certificate", () => caPem.replace(/\n[A-Za-z0-9+/]{20}/, "\nAAAAAAAAAAAAAAAAAAAA"), /ca\.pem \$\["certificate 1"\]: is not a valid certificate/],
    ["a certificate request", () => `${caPem}-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n`, /ca\.pem \$: the trust bundle holds a PEM block that is not a certificate/],
  ])("%s is refused", (_what, text, expected) => {
    const e = thrown(() => parseTrustBundle(text(), "ca.pem"));
    expect(e.message).toMatch(expected);
    // The key's body is never echoed.
    expect(e.message).not.toMatch(/MII/);
  });
});

describe("renderInstallConfig", () => {
  const pullSecret = JSON.stringify({ auths: { [HOST]: { auth: Buffer.from("cluster-pull:pässwörd: 'x\"").toString("base64") }, "registry.redhat.io": { auth: "abc", email: "a@b" } } });

  test("parses back to exactly the three keys; the pull secret one quoted line, the bundle a literal block", () => {
    const imageDigestSources = parseImageDigestMirrorSets(IDMS, "idms.yaml");
    const text = renderInstallConfig({ pullSecret, additionalTrustBundle: caPem, imageDigestSources });
    expect(YAML.parse(text)).toEqual({ pullSecret, additionalTrustBundle: caPem, imageDigestSources });
    expect(Object.keys(YAML.parse(text))).toEqual(["pullSecret", "additionalTrustBundle", "imageDigestSources"]);
    const lines = text.split("\n");
    expect(lines[0]).toMatch(/^pullSecret: '\{"auths":\{.*\}'$/);
    expect(lines[1]).toBe("additionalTrustBundle: |");
    expect(text).toMatch(/^additionalTrustBundle: \|\n  -----BEGIN CERTIFICATE-----\n/m);
    // install-config.yaml is merged by hand or by yq: the fragment is a mapping at the top level.
    expect(YAML.parseDocument(text).errors).toEqual([]);
  });

  test("unset keys are left out", () => {
    expect(YAML.parse(renderInstallConfig({ pullSecret }))).toEqual({ pullSecret });
    expect(Object.keys(YAML.parse(renderInstallConfig({ pullSecret, imageDigestSources: [] })))).toEqual(["pullSecret", "imageDigestSources"]);
  });

  test("a pull secret that looks like YAML stays a string", () => {
    for (const tricky of ["true", "123", "- a", "{a: b}", "key: value", "'quoted'", "#comment", "multi\nline"]) {
      expect(YAML.parse(renderInstallConfig({ pullSecret: tricky })).pullSecret).toBe(tricky);
    }
  });
});

describe("quay-mirror:idmsFile and quay-mirror:additionalTrustBundleFile", () => {
  const base = { mode: "existing", apiUrl: "https://quay.example.com", registryHostname: HOST, modelFile: path.join(repoRoot, "data/quay/bootstrap-model.json") };

  test("read, converted and checked before anything is declared", () => {
    fs.writeFileSync(path.join(dir, "idms-oc-mirror.yaml"), IDMS);
    const inputs = loadProgramInputs({ ...base, idmsFile: "idms-oc-mirror.yaml", additionalTrustBundleFile: path.join(dir, "ca.pem") }, dir, "site.yaml");
    expect(inputs.imageDigestSources).toHaveLength(3);
    expect(inputs.additionalTrustBundle).toContain("BEGIN CERTIFICATE");
    const none = loadProgramInputs(base, dir, "site.yaml");
    expect(none.imageDigestSources).toBeUndefined();
    expect(none.additionalTrustBundle).toBeUndefined();
  });

  test("a path that does not exist names the stack file and the key", () => {
    expect(thrown(() => loadProgramInputs({ ...base, idmsFile: "cluster-resources/idms.yaml" }, dir, "site.yaml")).message).toMatch(
      /site\.yaml \$\["quay-mirror:idmsFile"\]: the ImageDigestMirrorSet file .*"cluster-resources\/idms\.yaml" does not exist.* — fix: correct the path/,
    );
    expect(thrown(() => loadProgramInputs({ ...base, additionalTrustBundleFile: "ca.crt" }, dir, "site.yaml")).message).toMatch(/site\.yaml \$\["quay-mirror:additionalTrustBundleFile"\]: the trust bundle "ca\.crt" does not exist/);
  });

  test("a malformed IDMS names the IDMS file and the JSON path", () => {
    const bad = path.join(dir, "bad-idms.yaml");
    fs.writeFileSync(bad, IDMS.replace("source: registry.redhat.io/redhat", "source: docker://registry.redhat.io/redhat"));
    expect(thrown(() => loadProgramInputs({ ...base, idmsFile: bad }, dir, "site.yaml")).message).toContain(`${bad} $.spec.imageDigestMirrors[2].source: must be a repository`);
  });

  test("the keys are validated by the stack schema", () => {
    expect(thrown(() => loadProgramInputs({ ...base, idmsFile: "" }, dir, "site.yaml")).message).toMatch(/site\.yaml \$\["quay-mirror:idmsFile"\]: /);
    expect(thrown(() => loadProgramInputs({ ...base, additionalTrustBundleFile: 3 }, dir, "site.yaml")).message).toMatch(/site\.yaml \$\["quay-mirror:additionalTrustBundleFile"\]: .* — fix: give a value of the expected type/);
  });
});
