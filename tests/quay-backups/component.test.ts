// QuayBackups under pulumi.runtime.setMocks: its two steps, what waits for what, which values are secret,
// that no secret is ever part of a command line, the generated passphrase, and argument validation.
import * as pulumi from "@pulumi/pulumi";
import { QuayBackups } from "../../components/quay-backups";
import { HOST_KEY, PEM } from "../quay-host/samples";
import { unwrap, isSecret } from "../support/outputs";

const GENERATED = "GENERATEDPASSPHRASE0123456789abcdefghijklmnopqrs";
beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        const state: Record<string, any> = { ...args.inputs };
        if (args.type === "pulumi-nodejs:dynamic/local:RandomSecret") state.result = GENERATED;
        if (args.type === "command:remote:Command") state.stdout = "";
        return { id: `${args.name}-id`, state };
      },
      call: () => ({}),
    },
    "quay-mirror",
    "test",
    false,
  );
});


const SECRETS = { backup: "backup-secret-'\"$(x)", restore: "restore-secret-:@/%" };
function args(extra: Record<string, unknown> = {}) {
  return {
    connection: { host: "10.77.0.2", user: "ci", privateKey: pulumi.secret(PEM), hostKey: HOST_KEY },
    endpoint: "http://10.77.0.1:9000",
    backupCredentials: { accessKey: "quay-backup", secretKey: pulumi.secret(SECRETS.backup) },
    restoreCredentials: { accessKey: "quay-restore", secretKey: pulumi.secret(SECRETS.restore) },
    ...extra,
  };
}

async function build(name: string, a: Record<string, unknown>) {
  const captured: { type: string; name: string; props: Record<string, any>; opts: pulumi.CustomResourceOptions }[] = [];
  const b = new QuayBackups(name, a as any, {
    transformations: [
      (t: pulumi.ResourceTransformationArgs) => {
        captured.push({ type: t.type, name: t.name, props: t.props, opts: t.opts as pulumi.CustomResourceOptions });
        return undefined;
      },
    ],
  });
  const commands = captured.filter((c) => c.type === "command:remote:Command");
  return { b, captured, commands };
}

test("two steps: secrets (stdin, never logged) then install (with the destroy hook); both after the given resources", async () => {
  class Dep extends pulumi.CustomResource {}
  const dep = new Dep("test:index:Dep", "dep", {});
  const { b, commands, captured } = await build("bk", args({ after: [dep] }));
  expect(commands.map((c) => c.name)).toEqual(["bk-secrets", "bk-install"]);
  const [secrets, install] = commands as [(typeof commands)[0], (typeof commands)[0]];
  expect(secrets.opts.dependsOn).toEqual([dep]);
  expect(install.opts.dependsOn).toEqual([dep, b.steps.secrets]);
  expect(secrets.props.logging).toBe("none");
  expect(secrets.opts.additionalSecretOutputs).toEqual(expect.arrayContaining(["stdout", "stderr"]));
  expect(await isSecret(secrets.props.stdin)).toBe(true);
  expect(JSON.parse(await unwrap<string>(secrets.props.stdin))).toEqual({
    passphrase: GENERATED,
    backup: { accessKey: "quay-backup", secretKey: SECRETS.backup },
    restore: { accessKey: "quay-restore", secretKey: SECRETS.restore },
  });
  // the passphrase was generated once by RandomSecret (48 letters and digits) and is a secret output
  const gen = captured.find((c) => c.type === "pulumi-nodejs:dynamic/local:RandomSecret")!;
  expect(gen.name).toBe("bk-passphrase");
  expect(await unwrap(gen.props.length)).toBe(48);
  expect(await isSecret(b.backupPassphrase)).toBe(true);
  expect(await unwrap(b.backupPassphrase)).toBe(GENERATED);
  // command lines: sudo for a non-root user; no secret, and not secret themselves
  for (const c of commands) {
    for (const field of ["create", "delete"]) {
      const line = (await unwrap<string | undefined>(c.props[field])) ?? "";
      if (c.name === "bk-secrets" && field === "delete") continue;
      expect(line.startsWith("sudo -n -- bash -c ")).toBe(true);
      for (const s of [GENERATED, SECRETS.backup, SECRETS.restore]) expect(line).not.toContain(s);
    }
    expect(await isSecret(c.props.create)).toBe(false);
  }
  expect(await unwrap<string>(install.props.delete)).toContain("quay-mirror-backup-destroy");
  expect(await unwrap(b.location)).toBe("quay-backups/quay/");
});

test("a given passphrase is used (no generator), stays secret, and is checked when it resolves", async () => {
  const { b, captured } = await build("given", args({ passphrase: pulumi.secret("a-passphrase-of-the-operators-choice") }));
  expect(captured.filter((c) => c.type.includes("RandomSecret"))).toEqual([]);
  expect(await isSecret(b.backupPassphrase)).toBe(true);
  expect(await unwrap(b.backupPassphrase)).toBe("a-passphrase-of-the-operators-choice");
  const root = await build("root", args({ connection: { host: "10.77.0.2", user: "root", privateKey: pulumi.secret(PEM), hostKey: HOST_KEY } }));
  expect((await unwrap<string>(root.commands[0]!.props.create)).startsWith("bash -c ")).toBe(true);
});

test("bad arguments fail at construction with the JSON path and the fix, never echoing a secret", () => {
  expect(() => new QuayBackups("b1", args({ endpoint: "http://user:pw@minio:9000/x" }) as any)).toThrow(/\$\.endpoint: endpoint must be http\(s\):\/\/host:port/);
  expect(() => new QuayBackups("b2", args({ bucket: "Quay_Backups" }) as any)).toThrow(/\$\.bucket: bucket must be an S3 bucket name/);
  expect(() => new QuayBackups("b3", args({ passphrase: "short" }) as any)).toThrow(/\$\.passphrase: passphrase must be at least 20 characters/);
  expect(() => new QuayBackups("b4", args({ passphrase: "x".repeat(25) + "\nsecond-line" }) as any)).toThrow(/\$\.passphrase: passphrase must be one line/);
  expect(() => new QuayBackups("b5", args({ schedules: { backup: "daily; rm -rf /" } }) as any)).toThrow(/\$\.schedules\.backup: schedules\.backup must be a systemd calendar expression/);
  expect(() => new QuayBackups("b6", args({ prefix: "../x" }) as any)).toThrow(/\$\.prefix/);
  expect(() => new QuayBackups("b7", args({ database: "quay; drop" }) as any)).toThrow(/\$\.database/);
  // a connection whose host key is not pinned never reaches a step
  expect(() => new QuayBackups("b8", args({ connection: { host: "10.77.0.2", user: "ci", privateKey: pulumi.secret(PEM) } }) as any)).toThrow(/\$\.connection: connection must be an SSH connection with the host's key pinned/);
  try {
    new QuayBackups("b8", args({ passphrase: "tiny-secret" }) as any);
  } catch (e) {
    expect(String(e)).not.toContain("tiny-secret");
  }
});

test("restoreFrom: a third step runs quay-restore-database (after secrets and install) and is what QuayHost's start waits for", async () => {
  class Dep extends pulumi.CustomResource {}
  const dep = new Dep("test:index:Dep", "dep2", {});
  const plain = await build("nr", args({ after: [dep] }));
  expect(plain.b.restored).toBeUndefined();
  expect(plain.commands.map((c) => c.name)).toEqual(["nr-secrets", "nr-install"]);

  const { b, commands } = await build("rb", args({ after: [dep], restoreFrom: "20261207T031500Z" }));
  expect(commands.map((c) => c.name)).toEqual(["rb-secrets", "rb-install", "rb-restore"]);
  const restore = commands[2]!;
  expect(b.restored).toBe(b.steps.restore);
  expect(restore.opts.dependsOn).toEqual([dep, b.steps.secrets, b.steps.install]);
  const line = await unwrap<string>(restore.props.create);
  expect(line.startsWith("sudo -n -- bash -c ")).toBe(true);
  expect(line).toContain("readonly script='\\''/usr/local/sbin/quay-restore-database'\\''");
  expect(line).toContain("readonly from='\\''20261207T031500Z'\\''");
  expect(line).toContain("readonly overwrite='\\''false'\\''");
  expect(restore.props.delete).toBeUndefined();
  // the install step carries the rebuild command
  expect(await unwrap<string>(commands[1]!.props.create)).toContain("quay-restore-database");

  const over = await build("ro", args({ restoreFrom: "latest", restoreOverwrite: true }));
  expect(await unwrap<string>(over.commands[2]!.props.create)).toContain("readonly overwrite='\\''true'\\''");
});

test("restoreFrom and restoreOverwrite are checked: a backup's name or latest; overwrite only with a backup to restore", () => {
  expect(() => new QuayBackups("r1", args({ restoreFrom: "yesterday" }) as any)).toThrow(/\$\.restoreFrom: restoreFrom must be "latest" or a backup's UTC timestamp .* — fix: /);
  expect(() => new QuayBackups("r2", args({ restoreFrom: "20261207T031500Z; reboot" }) as any)).toThrow(/\$\.restoreFrom/);
  expect(() => new QuayBackups("r3", args({ restoreOverwrite: true }) as any)).toThrow(/\$\.restoreOverwrite: restoreOverwrite is set without restoreFrom — fix: /);
});
