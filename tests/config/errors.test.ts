// How bad input reaches the user: as the SDK's RunError (the engine prints the message, no stack trace, no
// dump of the error object), naming the settings file the user wrote, and never echoing a secret.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "../../config/errors";
import { QuayHostConfigError, lateRules, sshPrivateKeyProblem } from "../../config/quay-host";
import { checkEngineConfig, plaintextSecretIssues, stackSettingsFile } from "../../config/stack-file";
import { encodingProblem, jsonErrorOffset } from "../../config/text-file";
import { PEM } from "../quay-host/samples";

const PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHy3XWNwZOJqEOv/wzgpXthNqdbKAu5ksNZIhvWgdUc9 ops@laptop";

describe("configuration errors", () => {
  test("are RunErrors to the SDK, so the engine prints only their message", () => {
    const e = new ConfigError("Pulumi.lab.yaml", [{ path: ["quay-mirror:apiUrl"], message: "has no scheme", fix: "write https://…" }]);
    expect(pulumi.RunError.isInstance(e)).toBe(true);
    expect(e).toBeInstanceOf(ConfigError);
    expect(pulumi.RunError.isInstance(new QuayHostConfigError([{ path: "$.quayVersion", message: "x" }]))).toBe(true);
    // a bug is not bad input: it keeps its stack
    expect(pulumi.RunError.isInstance(new TypeError("x"))).toBe(false);
  });

  test("a text position is printed as a line, a key as its JSON path", () => {
    expect(new ConfigError("m.txt", [{ path: ["line 3 column 4"], message: "bad" }]).message).toContain("m.txt line 3 column 4: bad");
    expect(new ConfigError("s.yaml", [{ path: ["quay-mirror:host", "connection", 0], message: "bad" }]).message).toContain('s.yaml $["quay-mirror:host"].connection[0]: bad');
  });

  test("the settings file is the one QM_STACK_CONFIG names, else Pulumi.<stack>.yaml", () => {
    expect(stackSettingsFile("/repo", "lab", {})).toBe("/repo/Pulumi.lab.yaml");
    expect(stackSettingsFile("/repo", "lab", { QM_STACK_CONFIG: "stacks/site-a.yaml" })).toBe(path.resolve("/repo", "stacks/site-a.yaml"));
    expect(stackSettingsFile("/repo", "lab", { QM_STACK_CONFIG: "/etc/qm/site-b.yaml" })).toBe("/etc/qm/site-b.yaml");
    expect(stackSettingsFile("/repo", "lab", { QM_STACK_CONFIG: "" })).toBe("/repo/Pulumi.lab.yaml");
  });

  test("encodings: UTF-16 with or without a mark and a UTF-8 BOM are named; UTF-8 text passes", () => {
    expect(encodingProblem(Buffer.from("\ufeffa: 1\n", "utf16le"))).toMatch(/UTF-16 \(little-endian/);
    expect(encodingProblem(Buffer.from("a: 1\n", "utf16le"))).toMatch(/UTF-16/);
    expect(encodingProblem(Buffer.from([0xfe, 0xff, 0, 0x61]))).toMatch(/big-endian/);
    expect(encodingProblem(Buffer.from("\ufeffa: 1\n", "utf8"))).toMatch(/byte-order mark/);
    expect(encodingProblem(Buffer.from("a: «ü»\n", "utf8"))).toBeUndefined();
  });

  test("the JSON scanner agrees with JSON.parse on what is valid", () => {
    for (const ok of ['{"a":[1,2.5e3,-0,true,false,null,"x\\u00e9\\n"]}', " [] ", '"s"', "0"]) expect(jsonErrorOffset(ok)).toBe(-1);
    for (const bad of ['{"a":1,}', '{"a" 1}', "[1 2]", '{"a":01}', '"\\x"', "{} x", "", '{"a":"b\nc"}']) {
      expect(() => JSON.parse(bad)).toThrow();
      expect(jsonErrorOffset(bad)).toBeGreaterThanOrEqual(0);
    }
    expect(jsonErrorOffset('{"a":1,}')).toBe(7);
  });
});

describe("secrets in the settings", () => {
  test("an SSH public key, a PEM public key or a path is not a private key; the message never holds the value", () => {
    for (const v of [PUBLIC_KEY, "ecdsa-sha2-nistp256 AAAAE2VjZHNh", "-----BEGIN PUBLIC KEY-----\nMCow\n-----END PUBLIC KEY-----\n", "/home/ops/.ssh/quay_lab_key", ""]) {
      const problem = sshPrivateKeyProblem(v);
      expect(problem).toMatch(/— fix: /);
      if (v.length > 0) expect(problem).not.toContain(v.slice(0, 20));
    }
    expect(sshPrivateKeyProblem(PUBLIC_KEY)).toMatch(/PUBLIC key/);
    expect(sshPrivateKeyProblem(PEM)).toBeUndefined();
    expect(lateRules.privateKey.safeParse(PUBLIC_KEY).success).toBe(false);
  });

  test("the rule checkLater applies to an Output key names the problem without the value", () => {
    // (Outputs are checked when they resolve, inside the engine's serialization: too late for a clear
    // message, hence the program's synchronous check below; this is the same rule.)
    const r = lateRules.privateKey.safeParse(PUBLIC_KEY);
    expect(r.success).toBe(false);
    const message = r.error!.issues.map((i) => i.message).join("\n");
    expect(message).toContain("PUBLIC key");
    expect(message).not.toContain("AAAAC3Nza");
  });

  test("the program's check refuses a public key before anything is declared, naming the key, not the value", () => {
    expect(() => checkEngineConfig({ "quay-mirror:sshPrivateKey": PUBLIC_KEY }, () => true, "/repo/site.yaml")).toThrow(/site\.yaml .*quay-mirror:sshPrivateKey.*PUBLIC key/);
    try {
      checkEngineConfig({ "quay-mirror:sshPrivateKey": PUBLIC_KEY }, () => true, "/repo/site.yaml");
    } catch (e) {
      expect((e as Error).message).not.toContain("AAAAC3Nza");
    }
    expect(() => checkEngineConfig({ "quay-mirror:sshPrivateKey": PEM }, () => true, "s.yaml")).not.toThrow();
  });

  test("a secret in plain text is refused; secure values and other keys pass", () => {
    expect(plaintextSecretIssues({ "quay:token": { secure: "v1:abc" }, "quay-mirror:mode": "full" })).toEqual([]);
    const issues = plaintextSecretIssues({ "quay:token": "abc", "quay-mirror:backupPassphrase": "p" });
    expect(issues.map((i) => i.path[1])).toEqual(["quay-mirror:backupPassphrase", "quay:token"]);
    expect(issues[0].fix).toContain("scripts/pulumi.sh config set --secret quay-mirror:backupPassphrase <");
    expect(() => checkEngineConfig({ "quay:token": "abc" }, () => false, "s.yaml")).toThrow(/quay:token is a secret but its value is in plain text/);
    expect(() => checkEngineConfig({ "quay:token": "abc" }, (k) => k === "quay:token", "s.yaml")).not.toThrow();
  });
});
