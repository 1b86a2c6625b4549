// Program for tests/engine-command.test.ts: the unmodified @pulumi/command SDK (remote.Command and
// remote.CopyToRemote) against an SSH server on 127.0.0.1, run by the command plugin that
// scripts/install-pulumi.sh installs (plugins/command where the real pulumi-command cannot be built).
//
// Stack config (project namespace):
//   host, port, user, hostKey   the SSH server and its pinned host key (authorized_keys format)
//   privateKey (secret)          the client key; or
//   agentSocketPath              the socket of an ssh-agent that holds it (the key then is in no input)
//   dir                          a directory on the SSH host where the commands leave their traces
//   payloadDir                   a local directory copied with a FileArchive
//   stdinSecret (secret)         passed as stdin; must never reach the state in plain text
//   version, trigger             change them to update ("version") or replace ("trigger") the `log` command
//   failing                      "yes" adds a command that fails after echoing its secret stdin and environment
import * as pulumi from "@pulumi/pulumi";
import { remote, types } from "@pulumi/command";

export default function remoteCommandProgram(): Record<string, pulumi.Output<unknown>> {
    const cfg = new pulumi.Config();
    const agentSocketPath = cfg.get("agentSocketPath");
    const connection: types.input.remote.ConnectionArgs = {
        host: cfg.require("host"),
        port: cfg.requireNumber("port"),
        user: cfg.require("user"),
        ...(agentSocketPath !== undefined ? { agentSocketPath } : { privateKey: cfg.requireSecret("privateKey") }),
        hostKey: cfg.require("hostKey"),
        dialErrorLimit: 3,
        perDialTimeout: 5,
    };
    const dir = cfg.require("dir");
    const version = cfg.get("version") ?? "1";
    const trigger = cfg.get("trigger") ?? "a";

    // Create, update (with the previous stdout in the environment), delete; `triggers` replaces.
    const log = new remote.Command("log", {
        connection,
        create: `echo "create v${version} $GREETING" >> ${dir}/ops.log; echo created-${version}`,
        update: `echo "update v${version} prev=$PULUMI_COMMAND_STDOUT" >> ${dir}/ops.log; echo updated-${version}`,
        delete: `echo "delete prev=$PULUMI_COMMAND_STDOUT" >> ${dir}/ops.log`,
        environment: { GREETING: "hello-env" },
        triggers: [trigger],
    });

    // A secret on stdin: the command stores it (so the test can see it arrived) and prints nothing of it.
    const stdin = new remote.Command("stdin", {
        connection,
        create: `cat > ${dir}/stdin.txt; echo stored`,
        stdin: cfg.requireSecret("stdinSecret"),
    });

    // A command that prints its secret stdin: the line is logged redacted and `stdout` becomes a secret.
    const echo = new remote.Command("echo-stdin", { connection, create: "cat", stdin: cfg.requireSecret("stdinSecret") });

    // Output logging: "loud" streams its lines to the engine, "quiet" (logging: none) does not.
    const loud = new remote.Command("loud", { connection, create: "echo loud-marker-7a1c; echo loud-err-7a1c >&2" });
    const quiet = new remote.Command("quiet", {
        connection,
        create: "echo quiet-marker-9f3e; echo quiet-err-9f3e >&2",
        logging: "none",
    });

    // Copies: a StringAsset to a file whose parent directories do not exist yet, and a directory.
    const conf = new remote.CopyToRemote("conf", {
        connection,
        source: new pulumi.asset.StringAsset(`version=${version}\n`),
        remotePath: `${dir}/copied/etc/app.conf`,
    });
    const payload = new remote.CopyToRemote("payload", {
        connection,
        source: new pulumi.asset.FileArchive(cfg.require("payloadDir")),
        remotePath: `${dir}/copied/payload`,
    });

    if (cfg.get("failing") === "yes") {
        new remote.Command(
            "failing",
            {
                connection,
                create: 'cat; echo "token=$TOKEN" >&2; echo went-wrong >&2; exit 4',
                stdin: cfg.requireSecret("stdinSecret"),
                environment: { TOKEN: cfg.requireSecret("envSecret") },
            },
            { dependsOn: [log] },
        );
    }

    return {
        logStdout: log.stdout,
        stdinStdout: stdin.stdout,
        echoStdout: echo.stdout,
        loudStderr: loud.stderr,
        quietLength: quiet.stdout.apply((s) => s.length),
        copied: pulumi.all([conf.remotePath, payload.remotePath]).apply(([a, b]) => `${a} ${b}`),
    };
}
