// Policy test program for proxy-cache-expiration (tests/policy/policy.test.ts): a proxy cache whose tags
// never expire (expirationSeconds 0) when "violating"; a positive expiration and the default when "passing".
import { ProxyCache } from "../../../providers/quay/proxy-cache";
import { policyTestConfig } from "../policy-support/standins";

export default function program() {
  const { connection, violating } = policyTestConfig();
  new ProxyCache("quay-io", { connection, organization: "quay-io-cache", upstreamRegistry: "quay.io", expirationSeconds: violating ? 0 : 172800 });
  new ProxyCache("docker-io", { connection, organization: "docker-io-cache", upstreamRegistry: "docker.io/library" });
  return {};
}
