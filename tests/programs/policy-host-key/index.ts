// Policy test program for ssh-host-key-pinned (tests/policy/policy.test.ts): remote Commands and a
// CopyToRemote whose SSH connection (or bastion) has no hostKey, or "trust-on-first-use", when "violating";
// every key pinned when "passing" (plus the trust-on-first-use one, which the test allows by policy config).
// A preview runs only the command plugin's check: nothing is dialed (the addresses are TEST-NET-1).
import * as pulumi from "@pulumi/pulumi";
import { remote, types } from "@pulumi/command";
import { policyTestConfig } from "../policy-support/standins";

// A throwaway key's public half (authorized_keys format): pins a host that does not exist.
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHy3XWNwZOJqEOv/wzgpXthNqdbKAu5ksNZIhvWgdUc9";

export default function program() {
  const { violating } = policyTestConfig();
  const privateKey = new pulumi.Config("test").requireSecret("token");
  const conn = (host: string, hostKey?: string, proxy?: types.input.remote.ProxyConnectionArgs): types.input.remote.ConnectionArgs => ({
    host,
    user: "root",
    privateKey,
    ...(hostKey !== undefined ? { hostKey } : {}),
    ...(proxy ? { proxy } : {}),
  });
  const pinned = violating ? undefined : KEY;
  new remote.Command("unpinned", { connection: conn("192.0.2.10", pinned), create: "true" });
  new remote.CopyToRemote("unpinned-copy", { connection: conn("192.0.2.11", pinned), source: new pulumi.asset.StringAsset("x\n"), remotePath: "/tmp/x" });
  new remote.Command("bastion-unpinned", { connection: conn("192.0.2.12", KEY, { host: "192.0.2.1", user: "root", privateKey, ...(pinned ? { hostKey: pinned } : {}) }), create: "true" });
  new remote.Command("tofu", { connection: conn("192.0.2.13", "trust-on-first-use"), create: "true" });
  new remote.Command("pinned", { connection: conn("192.0.2.14", KEY), create: "true" });
  return {};
}
