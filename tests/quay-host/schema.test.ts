// config/quay-host.ts: defaults, cross-checks, the overlay rules, and every string input against the
// hostile corpus — each value is either rejected with its JSON path and a fix, or provably harmless.
import * as pulumi from "@pulumi/pulumi";
import YAML from "yaml";
import { DEFAULT_QUAY_VERSION, parseQuayHostArgs, proxyAddressProblem, QuayHostConfigError } from "../../config/quay-host";
import { renderQuayConfig, renderStep, serializeQuayConfig, valuesBlock } from "../../components/quay-host/render";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { hostKeyFromKnownHostsText, sshFingerprint } from "../../config/known-hosts";
import { bash, HOST_KEY, HOST_KEY_FINGERPRINT, HOSTILE, labArgs, PEM, SAMPLE_VALUES } from "./samples";

function problems(args: unknown): { path: string; message: string }[] {
  try {
    parseQuayHostArgs(args);
    return [];
  } catch (e) {
    if (!(e instanceof QuayHostConfigError)) throw e;
    return e.issues;
  }
}

function withValue(path: (string | number)[], value: unknown): Record<string, any> {
  const args = labArgs();
  let o: any = args;
  for (const k of path.slice(0, -1)) o = o[k] ??= {};
  o[path[path.length - 1]!] = value;
  return args;
}

describe("parseQuayHostArgs", () => {
  test("the lab's arguments parse, with the documented defaults", () => {
    const s = parseQuayHostArgs(labArgs());
    expect(s.quayVersion).toBe(DEFAULT_QUAY_VERSION);
    expect(s.connection).toMatchObject({ port: 22, user: "ci", dialErrorLimit: 10, perDialTimeout: 15 });
    expect(s.storage).toMatchObject({ isSecure: false, storagePath: "/datastorage/registry", signatureVersion: "v4" });
    expect(s).toMatchObject({ purgeOnDestroy: false, healthTimeoutSeconds: 600, proxyCache: false, extraConfig: {}, superuserName: "quayadmin", secretGenerator: "random" });
    expect(s.bootstrap).toEqual({ organization: "quay-mirror-bootstrap", application: "quay-mirror-bootstrap", renew: 0 });
  });

  test("Outputs are accepted where a value may come from another resource or be a secret", () => {
    const args = labArgs();
    args.connection.host = pulumi.output("10.77.0.2");
    args.connection.privateKey = pulumi.secret(PEM);
    args.storage.secretKey = pulumi.secret("s3cr3t");
    expect(() => parseQuayHostArgs(args)).not.toThrow();
  });

  test("all problems are reported at once, each with its JSON path and a fix", () => {
    const args = labArgs();
    args.storage.bucket = "Bad_Bucket";
    args.connection.port = 70000;
    args.serverHostname = "https://quay.example.com";
    args.extra = 1;
    const e = (() => {
      try {
        parseQuayHostArgs(args, "stack config quayHost");
      } catch (err) {
        return err as QuayHostConfigError;
      }
      throw new Error("no error");
    })();
    expect(e.message).toMatch(/^4 problems in stack config quayHost:/);
    const paths = e.issues.map((i) => i.path).sort();
    expect(paths).toEqual(["$", "$.connection.port", "$.serverHostname", "$.storage.bucket"]);
    for (const i of e.issues) expect(i.message).toMatch(/fix:/);
  });

  test("quayImage and imageArchive are mutually exclusive", () => {
    const p = problems({ ...labArgs(), quayImage: "quay.io/projectquay/quay:v3.18.0", imageArchive: "./quay.tar" });
    expect(p).toEqual([{ path: "$.imageArchive", message: expect.stringMatching(/mutually exclusive — fix:/) }]);
  });

  test("quayImage must be pinned to a tag or digest", () => {
    expect(problems({ ...labArgs(), quayImage: "quay.io/projectquay/quay" })[0]?.message).toMatch(/tag or a digest/);
    expect(problems({ ...labArgs(), quayImage: `mirror.local:5000/quay/quay@sha256:${"a".repeat(64)}` })).toEqual([]);
  });

  test("quayVersion must be 3.18 or later (token minting); non-semver tags pass", () => {
    expect(problems({ ...labArgs(), quayVersion: "v3.17.2" })[0]).toEqual({ path: "$.quayVersion", message: expect.stringMatching(/older than 3.18.*fix: use v3.18.0/) });
    expect(problems({ ...labArgs(), quayVersion: "v3.19.1" })).toEqual([]);
    expect(problems({ ...labArgs(), quayVersion: "nightly-20260101" })).toEqual([]);
  });

  describe("the TLS pair rule", () => {
    test("EXTERNAL_TLS_TERMINATION true needs https", () => {
      expect(problems({ ...labArgs(), extraConfig: { PREFERRED_URL_SCHEME: "http" } })).toEqual([
        { path: "$.extraConfig.PREFERRED_URL_SCHEME", message: expect.stringMatching(/EXTERNAL_TLS_TERMINATION: true needs PREFERRED_URL_SCHEME: https/) },
      ]);
    });
    test("https needs EXTERNAL_TLS_TERMINATION true", () => {
      expect(problems({ ...labArgs(), extraConfig: { EXTERNAL_TLS_TERMINATION: false } })).toEqual([
        { path: "$.extraConfig.EXTERNAL_TLS_TERMINATION", message: expect.stringMatching(/https without EXTERNAL_TLS_TERMINATION: true/) },
      ]);
    });
    test("both turned off together is fine (a host without a TLS proxy)", () => {
      expect(problems({ ...labArgs(), extraConfig: { EXTERNAL_TLS_TERMINATION: false, PREFERRED_URL_SCHEME: "http" } })).toEqual([]);
    });
  });

  describe("the extraConfig overlay", () => {
    test.each([
      ["DB_URI", "postgresql://x"],
      ["SECRET_KEY", "x"],
      ["DATABASE_SECRET_KEY", "x"],
      ["DISTRIBUTED_STORAGE_CONFIG", {}],
      ["SERVER_HOSTNAME", "x"],
      ["AUTHENTICATION_TYPE", "LDAP"],
      ["BUILDLOGS_REDIS", {}],
      ["HEALTH_CHECKER", ["LocalHealthCheck", {}]],
    ])("refuses the component-owned key %s, naming the input to use", (key, value) => {
      const p = problems({ ...labArgs(), extraConfig: { [key]: value } });
      expect(p).toEqual([{ path: `$.extraConfig.${key}`, message: expect.stringMatching(new RegExp(`${key} cannot be set in extraConfig: .* — fix: remove it`)) }]);
    });

    test("cannot unset anything, least of all a required key", () => {
      expect(problems({ ...labArgs(), extraConfig: { DEFAULT_TAG_EXPIRATION: null } })).toEqual([
        { path: "$.extraConfig.DEFAULT_TAG_EXPIRATION", message: expect.stringMatching(/the overlay can set keys, not unset them \(and DEFAULT_TAG_EXPIRATION is required by Quay\)/) },
      ]);
      expect(problems({ ...labArgs(), extraConfig: { FEATURE_FOO: undefined } })[0]?.message).toMatch(/not unset/);
    });

    test("known keys are type-checked", () => {
      expect(problems({ ...labArgs(), extraConfig: { FEATURE_SUPERUSERS_FULL_ACCESS: "yes" } })[0]?.path).toBe("$.extraConfig.FEATURE_SUPERUSERS_FULL_ACCESS");
      expect(problems({ ...labArgs(), extraConfig: { TAG_EXPIRATION_OPTIONS: ["2w", "forever"] } })[0]?.path).toBe("$.extraConfig.TAG_EXPIRATION_OPTIONS[1]");
      expect(problems({ ...labArgs(), extraConfig: { FEATURE_EXTENDED_REPOSITORY_NAMES: false } })[0]?.message).toMatch(/oc-mirror/);
      expect(problems({ ...labArgs(), extraConfig: { FEATURE_USER_INITIALIZE: false } })[0]?.message).toMatch(/initialize/);
      expect(problems({ ...labArgs(), extraConfig: { FEATURE_DIRECT_LOGIN: false } })[0]?.message).toMatch(/signs in/);
      expect(problems({ ...labArgs(), extraConfig: { SUPER_USERS: ["ok", "Not OK"] } })[0]?.path).toBe("$.extraConfig.SUPER_USERS[1]");
    });

    test("TESTING cannot be set at all; FEATURE_PROXY_STORAGE belongs to storage.directDownloads", () => {
      expect(problems({ ...labArgs(), extraConfig: { TESTING: true } })).toEqual([{ path: "$.extraConfig.TESTING", message: expect.stringMatching(/TESTING cannot be set in extraConfig: .*— fix: remove it/) }]);
      expect(problems({ ...labArgs(), extraConfig: { TESTING: false } })[0]?.path).toBe("$.extraConfig.TESTING");
      expect(problems({ ...labArgs(), extraConfig: { FEATURE_PROXY_STORAGE: false } })).toEqual([
        { path: "$.extraConfig.FEATURE_PROXY_STORAGE", message: expect.stringMatching(/storage\.directDownloads/) },
      ]);
    });

    test.each([
      ["FEATURE_USER_CREATION", true],
      ["FEATURE_ANONYMOUS_ACCESS", true],
      ["CREATE_PRIVATE_REPO_ON_PUSH", false],
    ])("relaxing the posture key %s needs its name in postureOverrides", (key, weaker) => {
      expect(problems({ ...labArgs(), extraConfig: { [key]: weaker } })).toEqual([
        { path: `$.extraConfig.${key}`, message: expect.stringMatching(new RegExp(`${key}: ${weaker} relaxes the host's security posture .*— fix: remove it from extraConfig, or add "${key}" to postureOverrides`)) },
      ]);
      expect(problems({ ...labArgs(), extraConfig: { [key]: weaker }, postureOverrides: [key] })).toEqual([]);
      // the pinned value itself needs no acknowledgement
      expect(problems({ ...labArgs(), extraConfig: { [key]: !weaker } })).toEqual([]);
    });

    test("FEATURE_INVITE_ONLY_USER_CREATION true needs FEATURE_USER_CREATION true (Quay's validator)", () => {
      expect(problems({ ...labArgs(), extraConfig: { FEATURE_INVITE_ONLY_USER_CREATION: true } })).toEqual([
        { path: "$.extraConfig.FEATURE_INVITE_ONLY_USER_CREATION", message: expect.stringMatching(/needs FEATURE_USER_CREATION: true .*— fix/) },
      ]);
      expect(problems({ ...labArgs(), extraConfig: { FEATURE_INVITE_ONLY_USER_CREATION: true, FEATURE_USER_CREATION: true }, postureOverrides: ["FEATURE_USER_CREATION"] })).toEqual([]);
    });

    test("postureOverrides names only posture keys that extraConfig really relaxes", () => {
      expect(problems({ ...labArgs(), postureOverrides: ["FEATURE_MAILING"] })).toEqual([{ path: "$.postureOverrides[0]", message: expect.stringMatching(/not a posture key .*— fix/) }]);
      expect(problems({ ...labArgs(), postureOverrides: ["FEATURE_USER_CREATION"] })).toEqual([
        { path: "$.postureOverrides[0]", message: expect.stringMatching(/extraConfig does not relax FEATURE_USER_CREATION — fix: remove it from postureOverrides/) },
      ]);
    });

    test("DEFAULT_TAG_EXPIRATION must be one of TAG_EXPIRATION_OPTIONS", () => {
      expect(problems({ ...labArgs(), extraConfig: { DEFAULT_TAG_EXPIRATION: "3w" } })[0]).toEqual({ path: "$.extraConfig.DEFAULT_TAG_EXPIRATION", message: expect.stringMatching(/not one of TAG_EXPIRATION_OPTIONS/) });
      expect(problems({ ...labArgs(), extraConfig: { DEFAULT_TAG_EXPIRATION: "3w", TAG_EXPIRATION_OPTIONS: ["1w", "3w"] } })).toEqual([]);
    });

    test("FEATURE_MAILING true requires superuserEmail", () => {
      expect(problems({ ...labArgs(), extraConfig: { FEATURE_MAILING: true } })[0]?.path).toBe("$.superuserEmail");
      expect(problems({ ...labArgs(), superuserEmail: "admin@example.com", extraConfig: { FEATURE_MAILING: true } })).toEqual([]);
    });

    test("unknown keys must be UPPER_SNAKE_CASE and JSON-serializable", () => {
      expect(problems({ ...labArgs(), extraConfig: { FEATURE_NEW_THING: { a: [1, true, null, "x"] } } })).toEqual([]);
      expect(problems({ ...labArgs(), extraConfig: { feature_typo: true } })[0]?.message).toMatch(/UPPER_SNAKE_CASE/);
      const cyclic: any = { a: 1 };
      cyclic.self = cyclic;
      const bad: [string, unknown, RegExp][] = [
        ["NAN", NaN, /finite/],
        ["INF", [1, Infinity], /\[1\] is not a finite number/],
        ["FN", () => 1, /function/],
        ["BIG", 10n, /bigint/],
        ["SYM", Symbol("x"), /symbol/],
        ["DATE", new Date(0), /Date object/],
        ["CYCLE", cyclic, /cycle/],
        ["OUT", pulumi.output("x"), /Output/],
        ["NESTED_UNDEF", { a: undefined }, /\.a is a undefined/],
      ];
      for (const [key, value, re] of bad) {
        const p = problems({ ...labArgs(), extraConfig: { [key]: value } });
        expect({ key, p }).toEqual({ key, p: [{ path: `$.extraConfig.${key}`, message: expect.stringMatching(re) }] });
      }
    });
  });

  test("proxyAddress wider than IPv4 /16 or IPv6 /48 is refused unless allowWideProxyNetwork", () => {
    for (const wide of ["0.0.0.0/0", "10.0.0.0/8", "10.0.0.0/15", "::/0", "2001:db8::/32", "2001:db8::/47"]) {
      expect({ wide, p: problems({ ...labArgs(), proxyAddress: wide }) }).toEqual({
        wide,
        p: [{ path: "$.proxyAddress", message: expect.stringMatching(/opens Quay's port 8080 to .* addresses .*— fix: give the TLS proxy's address .*or set allowWideProxyNetwork: true/) }],
      });
      expect(problems({ ...labArgs(), proxyAddress: wide, allowWideProxyNetwork: true })).toEqual([]);
    }
    for (const ok of ["10.1.0.0/16", "10.1.2.0/24", "30.30.200.102", "2001:db8:1::/48", "2001:db8::1"]) expect({ ok, p: problems({ ...labArgs(), proxyAddress: ok }) }).toEqual({ ok, p: [] });
  });

  test("storage.serverSideAssembly and storage.directDownloads default to Quay's assembly and downloads through Quay", () => {
    const s = parseQuayHostArgs(labArgs());
    expect(s.storage).toMatchObject({ serverSideAssembly: true, directDownloads: false });
    expect(parseQuayHostArgs(withValue(["storage", "serverSideAssembly"], false)).storage.serverSideAssembly).toBe(false);
    expect(problems(withValue(["storage", "directDownloads"], "yes"))[0]?.path).toBe("$.storage.directDownloads");
  });

  test("proxyAddress: IPv4/IPv6 addresses and networks in the form UFW keeps", () => {
    for (const ok of ["30.30.200.102", "10.0.0.0/24", "2001:db8::1", "2001:db8::/32"]) expect(proxyAddressProblem(ok)).toBeUndefined(); // the form; the width is checked apart
    expect(proxyAddressProblem("10.1.2.3/24")).toMatch(/host bits set — fix/);
    expect(proxyAddressProblem("2001:db8:0:0::1")).toMatch(/write it as 2001:db8::1/);
    expect(proxyAddressProblem("10.0.0.0/33")).toMatch(/prefix length/);
    expect(proxyAddressProblem("any")).toMatch(/IP address or CIDR/);
  });
});

/**
 * Every string input. `sink` says where an accepted value goes: "shell" (a template slot, quoted by shq),
 * "yaml" (config.yaml, serialized by the yaml library), "provider" (pulumi-command's connection or a
 * local file path: never a shell). Inputs with a narrow alphabet must reject every hostile value.
 */
const STRING_INPUTS: { path: (string | number)[]; sink: "reject-all" | "yaml" | "provider"; namesFile?: boolean }[] = [
  { path: ["connection", "host"], sink: "reject-all" },
  { path: ["connection", "user"], sink: "reject-all" },
  { path: ["connection", "privateKey"], sink: "reject-all" },
  { path: ["connection", "privateKeyPassword"], sink: "provider" },
  { path: ["connection", "hostKey"], sink: "reject-all" },
  { path: ["connection", "bastion", "host"], sink: "reject-all" },
  { path: ["connection", "bastion", "user"], sink: "reject-all" },
  { path: ["connection", "bastion", "hostKey"], sink: "reject-all" },
  { path: ["connection", "hostKeyPolicy"], sink: "reject-all" },
  // a local path, never a secret: its errors name the file (the value), as they must
  { path: ["connection", "knownHostsFile"], sink: "reject-all", namesFile: true },
  { path: ["serverHostname"], sink: "reject-all" },
  { path: ["quayVersion"], sink: "reject-all" },
  { path: ["quayImage"], sink: "reject-all" },
  { path: ["imageArchive"], sink: "provider" },
  { path: ["proxyAddress"], sink: "reject-all" },
  { path: ["storage", "hostname"], sink: "reject-all" },
  { path: ["storage", "bucket"], sink: "reject-all" },
  { path: ["storage", "accessKey"], sink: "yaml" },
  { path: ["storage", "secretKey"], sink: "yaml" },
  { path: ["storage", "storagePath"], sink: "reject-all" },
  { path: ["storage", "regionName"], sink: "reject-all" },
  { path: ["superuserName"], sink: "reject-all" },
  { path: ["superuserEmail"], sink: "reject-all" },
  { path: ["bootstrap", "organization"], sink: "reject-all" },
  { path: ["bootstrap", "application"], sink: "reject-all" },
  { path: ["extraConfig", "REGISTRY_TITLE"], sink: "yaml" },
  { path: ["extraConfig", "SOME_FUTURE_KEY"], sink: "yaml" },
];

describe("hostile values in every string input", () => {
  const SHELL_SAFE = /^[A-Za-z0-9._/@+,=~:-]*$/;

  test.each(STRING_INPUTS.map((i) => [i.path.join("."), i]))("%s", (_name, input) => {
    for (const h of HOSTILE) {
      const args = withValue(input.path, h);
      if (input.path[1] === "bastion") args.connection.bastion = { host: "bastion.example.com", hostKey: HOST_KEY, ...args.connection.bastion, [input.path[2]!]: h };
      // knownHostsFile replaces hostKey (they are alternatives): a hostile path names a file that has no key
      if (input.path[1] === "knownHostsFile") delete args.connection.hostKey;
      const p = problems(args);
      if (p.length > 0) {
        // rejected: the message names the JSON path and the fix, and never echoes the value
        const where = "$." + input.path.join(".");
        for (const i of p) expect({ h, path: i.path }).toEqual({ h, path: expect.stringContaining(where) });
        expect(p[0]!.message).toMatch(/fix:|must|cannot/);
        if (h.length > 3 && !input.namesFile) expect(p[0]!.message).not.toContain(h);
        continue;
      }
      expect({ h, sink: input.sink }).not.toEqual({ h, sink: "reject-all" });
      if (input.sink === "yaml") {
        const s = parseQuayHostArgs(args);
        const c = renderQuayConfig({
          serverHostname: s.serverHostname,
          superuserName: s.superuserName,
          proxyCache: false,
          storage: { ...s.storage, accessKey: s.storage.accessKey as string, secretKey: s.storage.secretKey as string },
          secrets: { postgresPassword: "p", redisPassword: "r", secretKey: "s", databaseSecretKey: "d" },
          extraConfig: s.extraConfig,
        });
        const back = YAML.parse(serializeQuayConfig(c));
        expect(back).toEqual(c);
      } else {
        // provider-only values (SSH key passphrase, the local archive path) never reach a shell;
        // the archive path is read by node's fs, and only its hash names the upload
        expect(input.sink).toBe("provider");
      }
    }
  });

  test("values that do reach a template slot are shell-safe after validation, and shq carries them anyway", () => {
    const s = parseQuayHostArgs({ ...labArgs(), quayImage: "mirror.local:5000/quay/quay:v3.18.0", proxyAddress: "2001:db8::/48" });
    for (const v of [s.quayImage!, s.quayVersion, s.proxyAddress, s.bootstrap.organization, s.bootstrap.application, s.superuserName]) expect(v).toMatch(SHELL_SAFE);
    const block = valuesBlock(renderStep("firewall", { ...SAMPLE_VALUES.firewall, PROXY_ADDRESS: s.proxyAddress }));
    expect(bash(`${block}\nprintf '%s' "$proxy_address"`).stdout).toBe("2001:db8::/48");
  });
});

describe("the SSH host key", () => {
  const OTHER_KEY = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 other";
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "qm-known-hosts-"));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    return f;
  };
  const withoutKey = (patch: (c: Record<string, any>) => void = () => {}) => {
    const args = labArgs();
    delete args.connection.hostKey;
    patch(args.connection);
    return args;
  };

  test("is required: missing is an error at $.connection.hostKey that says how to get the key", () => {
    const p = problems(withoutKey());
    expect(p.map((i) => i.path)).toEqual(["$.connection.hostKey"]);
    expect(p[0]!.message).toMatch(/^hostKey is required/);
    expect(p[0]!.message).toContain("ssh-keyscan -t ed25519 10.77.0.2");
    expect(p[0]!.message).toContain("ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub");
    expect(p[0]!.message).toMatch(/knownHostsFile/);
    expect(p[0]!.message).toMatch(/hostKeyPolicy: trust-on-first-use/);
    // another port: the keyscan and the known_hosts name say so
    expect(problems(withoutKey((c) => (c.port = 2222)))[0]!.message).toMatch(/ssh-keyscan -p 2222 -t ed25519 10\.77\.0\.2.*\[10\.77\.0\.2\]:2222/);
  });

  test("the bastion's too", () => {
    const args = labArgs();
    args.connection.bastion = { host: "bastion.example.com" };
    const p = problems(args);
    expect(p.map((i) => i.path)).toEqual(["$.connection.bastion.hostKey"]);
    expect(p[0]!.message).toContain("ssh-keyscan -t ed25519 bastion.example.com");
    args.connection.bastion.hostKey = HOST_KEY;
    expect(problems(args)).toEqual([]);
  });

  test("a known_hosts file pins the host's entry (read now), preferring ed25519; hashed names and [host]:port work", () => {
    const hashed = (name: string) => {
      const salt = crypto.randomBytes(20);
      return `|1|${salt.toString("base64")}|${crypto.createHmac("sha1", salt).update(name).digest("base64")}`;
    };
    const text = [
      "# comment",
      `other.example.com ${OTHER_KEY}`,
      `10.77.0.2,quay-01 ${OTHER_KEY}`,
      `10.77.0.2 ${HOST_KEY} ed25519 wins`,
      `${hashed("[10.77.0.2]:2222")} ${OTHER_KEY}`,
      "",
    ].join("\n");
    expect(hostKeyFromKnownHostsText(text, "kh", "10.77.0.2", 22)).toEqual({ key: HOST_KEY });
    expect(hostKeyFromKnownHostsText(text, "kh", "quay-01", 22)).toEqual({ key: "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7" });
    expect(hostKeyFromKnownHostsText(text, "kh", "10.77.0.2", 2222)).toEqual({ key: "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7" });
    expect(hostKeyFromKnownHostsText(`${hashed("10.77.0.2")} ${HOST_KEY}\n`, "kh", "10.77.0.2", 22)).toEqual({ key: HOST_KEY });
    // wildcards, negation, @revoked, @cert-authority
    expect(hostKeyFromKnownHostsText(`*.lab,!bad.lab ${HOST_KEY}\n`, "kh", "quay.lab", 22)).toEqual({ key: HOST_KEY });
    expect(hostKeyFromKnownHostsText(`*.lab,!bad.lab ${HOST_KEY}\n`, "kh", "bad.lab", 22)).toHaveProperty("problem");
    expect(hostKeyFromKnownHostsText(`h ${HOST_KEY}\n@revoked h ${HOST_KEY}\n`, "kh", "h", 22)).toEqual({ problem: expect.stringMatching(/only @revoked keys for h/) });
    expect(hostKeyFromKnownHostsText(`@cert-authority h ${HOST_KEY}\n`, "kh", "h", 22)).toHaveProperty("problem");
    expect(sshFingerprint(HOST_KEY)).toBe(HOST_KEY_FINGERPRINT);

    const kh = file("known_hosts", text);
    expect(problems(withoutKey((c) => (c.knownHostsFile = kh)))).toEqual([]);
  });

  test("a known_hosts file without the host, or missing, is an error at $.connection.knownHostsFile naming the file and the fix", () => {
    const kh = file("other_hosts", `other.example.com ${HOST_KEY}\n`);
    const p = problems(withoutKey((c) => (c.knownHostsFile = kh)));
    expect(p.map((i) => i.path)).toEqual(["$.connection.knownHostsFile"]);
    expect(p[0]!.message).toContain(`${kh} has no key for 10.77.0.2`);
    expect(p[0]!.message).toContain(`ssh-keyscan -t ed25519 10.77.0.2 >> ${kh}`);
    const missing = path.join(dir, "nope");
    const q = problems(withoutKey((c) => (c.knownHostsFile = missing)));
    expect(q.map((i) => i.path)).toEqual(["$.connection.knownHostsFile"]);
    expect(q[0]!.message).toMatch(new RegExp(`cannot read ${missing} \\(ENOENT\\) — fix: create it with`));
  });

  test("trust-on-first-use is an explicit opt-in; the sources are alternatives", () => {
    expect(problems(withoutKey((c) => (c.hostKeyPolicy = "trust-on-first-use")))).toEqual([]);
    const both = problems({ ...labArgs(), connection: { ...labArgs().connection, hostKeyPolicy: "trust-on-first-use" } });
    expect(both).toEqual([{ path: "$.connection.hostKeyPolicy", message: "hostKey and hostKeyPolicy: trust-on-first-use are alternatives — fix: keep one of them" }]);
    const typo = problems(withoutKey((c) => (c.hostKeyPolicy = "tofu")));
    expect(typo.map((i) => i.path)).toEqual(["$.connection.hostKeyPolicy"]);
    expect(typo[0]!.message).toMatch(/must be "strict" or "trust-on-first-use"/);
    expect(problems(withoutKey((c) => (c.hostKeyPolicy = "strict")))[0]!.path).toBe("$.connection.hostKey");
  });
});

describe("the SSH key: privateKey or an agent's socket (agentSocketPath), exactly one", () => {
  const AGENT = "/run/quay-mirror/ssh-agent.sock";
  const agentArgs = () => {
    const args = labArgs();
    delete args.connection.privateKey;
    args.connection.agentSocketPath = AGENT;
    return args;
  };

  test("agentSocketPath alone is accepted, and kept as given; so is privateKey alone", () => {
    expect(parseQuayHostArgs(agentArgs()).connection).toMatchObject({ agentSocketPath: AGENT });
    expect(parseQuayHostArgs(agentArgs()).connection.privateKey).toBeUndefined();
    expect((parseQuayHostArgs(labArgs()).connection as Record<string, unknown>).agentSocketPath).toBeUndefined();
  });

  test("neither, both, and privateKeyPassword with the agent are refused with the path and the fix", () => {
    const neither = agentArgs();
    delete neither.connection.agentSocketPath;
    expect(problems(neither)).toEqual([{ path: "$.connection.privateKey", message: expect.stringMatching(/^one of privateKey and agentSocketPath is required: .* — fix: set agentSocketPath to the path of an SSH agent that holds the key/) }]);
    const both = agentArgs();
    both.connection.privateKey = PEM;
    expect(problems(both)).toEqual([{ path: "$.connection.agentSocketPath", message: expect.stringMatching(/^privateKey and agentSocketPath are alternatives — fix: keep one of them/) }]);
    const password = agentArgs();
    password.connection.privateKeyPassword = "pw";
    expect(problems(password)).toEqual([{ path: "$.connection.privateKeyPassword", message: expect.stringMatching(/goes with privateKey, and agentSocketPath is set — fix: remove privateKeyPassword/) }]);
    const bastion = agentArgs();
    bastion.connection.bastion = { host: "bastion.example.com", hostKey: HOST_KEY, privateKey: PEM, agentSocketPath: AGENT };
    expect(problems(bastion)).toEqual([{ path: "$.connection.bastion.agentSocketPath", message: expect.stringMatching(/^privateKey and agentSocketPath are alternatives — fix: keep one of them, or neither/) }]);
  });

  test.each([
    ["ssh-agent.sock", /must be an absolute path .* — fix: give the fixed path the SSH agent listens on/],
    ["$SSH_AUTH_SOCK", /must be an absolute path/],
    ["/run/x/../agent.sock", /must not contain '\.\.'/],
    ["/tmp/a b.sock", /must be an absolute path/],
    [`/${"a".repeat(107)}`, /at most 107 characters \(a unix socket's path limit\)/],
    [7, /agentSocketPath must be a string/],
  ])("agentSocketPath %j is refused", (value, message) => {
    const args = agentArgs();
    args.connection.agentSocketPath = value;
    expect(problems(args)).toEqual([{ path: "$.connection.agentSocketPath", message: expect.stringMatching(message) }]);
  });
});
