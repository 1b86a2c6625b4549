// Policy test program for ssh-host-key-pinned (tests/policy/policy.test.ts). "violating" declares the one
// case test:case names — a Command or CopyToRemote whose connection, or bastion, has no hostKey, or has
// "trust-on-first-use" — because the engine stops at the first resource whose check fails, and quay-mirror's
// command plugin refuses a connection without hostKey in its check as well (the policy also covers the real
// pulumi-command, which does not). "passing" pins every key, plus a trust-on-first-use Command the test
// allows by policy config. A preview runs only the command plugin's check: nothing is dialed (TEST-NET-1).
import * as pulumi from "@pulumi/pulumi";
import { remote, types } from "@pulumi/command";
import { policyTestConfig } from "../policy-support/standins";

// A throwaway key's public half (authorized_keys format): pins a host that does not exist.
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHy3XWNwZOJqEOv/wzgpXthNqdbKAu5ksNZIhvWgdUc9";

export default function program() {
  const { violating } = policyTestConfig();
  const config = new pulumi.Config("test");
  const privateKey = config.requireSecret("token");
  const conn = (host: string, hostKey?: string, proxy?: types.input.remote.ProxyConnectionArgs): types.input.remote.ConnectionArgs => ({
    host,
    user: "root",
    privateKey,
    ...(hostKey !== undefined ? { hostKey } : {}),
    ...(proxy ? { proxy } : {}),
  });
  new remote.Command("pinned", { connection: conn("192.0.2.14", KEY, { host: "192.0.2.1", user: "root", privateKey, hostKey: KEY }), create: "true" });
  const only = violating ? config.require("case") : undefined;
  const wants = (name: string) => only === undefined || only === name;
  const key = violating ? undefined : KEY;
  if (wants("unpinned")) new remote.Command("unpinned", { connection: conn("192.0.2.10", key), create: "true" });
  if (wants("unpinned-copy")) {
    new remote.CopyToRemote("unpinned-copy", { connection: conn("192.0.2.11", key), source: new pulumi.asset.StringAsset("x\n"), remotePath: "/tmp/x" });
  }
  if (wants("bastion-unpinned")) {
    new remote.Command("bastion-unpinned", { connection: conn("192.0.2.12", KEY, { host: "192.0.2.1", user: "root", privateKey, ...(key ? { hostKey: key } : {}) }), create: "true" });
  }
  if (wants("tofu")) new remote.Command("tofu", { connection: conn("192.0.2.13", "trust-on-first-use"), create: "true" });
  return {};
}
