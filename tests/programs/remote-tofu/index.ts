// Program for tests/engine-command.test.ts: trust-on-first-use through the engine, the way QuayHost uses it.
// A "host-key" Command with hostKey "trust-on-first-use" records the key the SSH server offers (our command
// plugin writes it into the Command's connection output); the "step" Command pins that recorded key.
//
// Stack config (project namespace): host, port, user; privateKey (secret); version (changes the commands).
import * as pulumi from "@pulumi/pulumi";
import { remote, types } from "@pulumi/command";

export default function remoteTofuProgram(): Record<string, pulumi.Output<unknown>> {
    const cfg = new pulumi.Config();
    const version = cfg.get("version") ?? "1";
    const connection: types.input.remote.ConnectionArgs = {
        host: cfg.require("host"),
        port: cfg.requireNumber("port"),
        user: cfg.require("user"),
        privateKey: cfg.requireSecret("privateKey"),
        hostKey: "trust-on-first-use",
        dialErrorLimit: 2,
        perDialTimeout: 5,
    };
    const recorder = new remote.Command("host-key", { connection, create: `echo recorded-${version}`, addPreviousOutputInEnv: false });
    const recorded = recorder.connection.apply((c) => c.hostKey ?? "");
    const step = new remote.Command("step", { connection: { ...connection, hostKey: recorded }, create: `echo step-${version}`, addPreviousOutputInEnv: false });
    return { recorded: pulumi.unsecret(recorded), step: step.stdout };
}
