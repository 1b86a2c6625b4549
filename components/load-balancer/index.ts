// LoadBalancer: HAProxy from the distribution's packages on a host over SSH, TLS on :443 for the registry's
// name with the certificate the user provides (or the one the stack generates, local:RegistryCertificate),
// HTTP to the Quay nodes' :8080 with health checks. The steps are remote.Commands run the way QuayHost runs
// them (components/quay-host/index.ts): each embeds the hash of what it installs in its secret-free script,
// so a change re-runs exactly the steps that install it; the private key reaches the host on stdin only.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { checkTlsKeyLater, LoadBalancerInput, parseLoadBalancerArgs } from "../../config/load-balancer";
import { buildConnection } from "../quay-host";
import { renderStep, sha256Hex, sshCommand, StepValue, UPLOAD_DIR } from "../quay-host/render";
import { HAPROXY_CERT_DIR, HAPROXY_CERT_PATH, HAPROXY_CONFIG_PATH, HTTPS_PORT, LB_APT_PACKAGES, LbStepTemplate, renderHaproxyConfig, renderLbStep } from "./render";

export * from "./render";

export type LoadBalancerArgs = LoadBalancerInput;

/** The steps, in the order they are declared (and chained). */
export const LOAD_BALANCER_STEPS = ["wait", "packages", "firewall", "tls", "config", "lifecycle"] as const;

export class LoadBalancer extends pulumi.ComponentResource {
  /** https://<registryHostname>: the registry through the load balancer. */
  public readonly url: pulumi.Output<string>;
  /** SHA-256 of the rendered haproxy.cfg. */
  public readonly configSha256: pulumi.Output<string>;
  /** The last step (HAProxy serves :443 with this config): depend on it to use the registry through it. */
  public readonly ready: pulumi.Resource;
  /** Every step, by name (for dependsOn and tests). */
  public readonly steps: Readonly<Record<string, pulumi.Resource>>;

  constructor(name: string, args: LoadBalancerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("quay-mirror:host:LoadBalancer", name, {}, opts);
    const where = `LoadBalancer "${name}" arguments`;
    const s = parseLoadBalancerArgs(args, where);
    const child = { parent: this };
    const steps: Record<string, pulumi.Resource> = {};
    const connection = buildConnection(s);
    const sudo = s.connection.user !== "root";
    const bootDialLimit = Math.max(s.connection.dialErrorLimit, Math.ceil(s.bootTimeoutSeconds / s.connection.perDialTimeout));

    const step = (
      stepName: string,
      script: pulumi.Input<string>,
      o: { dependsOn: pulumi.Resource[]; stdin?: pulumi.Input<string>; secretOutput?: boolean; conn?: typeof connection },
    ) => {
      const cmd = new command.remote.Command(
        `${name}-${stepName}`,
        {
          connection: o.conn ?? connection,
          create: pulumi.output(script).apply((text) => sshCommand(text, { sudo, label: `lb-${stepName}` })),
          ...(o.stdin !== undefined ? { stdin: o.stdin } : {}),
          logging: o.secretOutput ? "none" : "stdoutAndStderr",
          addPreviousOutputInEnv: false,
        },
        { ...child, dependsOn: o.dependsOn, ...(o.secretOutput ? { additionalSecretOutputs: ["stdout", "stderr"] } : {}) },
      );
      steps[stepName] = cmd;
      return cmd;
    };
    const lb = (template: LbStepTemplate, values: Record<string, StepValue>) => renderLbStep(template, values);

    // 1. SSH, cloud-init, systemd (QuayHost's first step).
    const wait = step("wait", renderStep("wait-for-ssh", { BOOT_TIMEOUT: s.bootTimeoutSeconds, UPLOAD_DIR }), { dependsOn: [], conn: { ...connection, dialErrorLimit: bootDialLimit } });
    // 2. HAProxy and UFW from the distribution.
    const packages = step("packages", lb("packages", { PACKAGES: [...LB_APT_PACKAGES] }), { dependsOn: [wait] });
    // 3. UFW: SSH and 443 only.
    const firewall = step("firewall", lb("firewall", { SSH_PORT: s.connection.port, HTTPS_PORT }), { dependsOn: [packages] });
    // 4. certificate chain + key on stdin, 0600; the hash of the PEM (of a high-entropy key: reveals nothing) re-runs it.
    const key = typeof s.privateKey === "string" && typeof s.certificate === "string" ? pulumi.secret(s.privateKey) : checkTlsKeyLater(s.privateKey, s.certificate, where);
    const pem = pulumi.secret(pulumi.all([pulumi.output(s.certificate), key]).apply(([c, k]) => `${c.trim()}\n${k.trim()}\n`));
    const tlsFingerprint = pulumi.unsecret(pem.apply((p) => sha256Hex(p).slice(0, 16)));
    const tls = step(
      "tls",
      tlsFingerprint.apply((fp) => lb("tls", { CERT_DIR: HAPROXY_CERT_DIR, CERT_PATH: HAPROXY_CERT_PATH, FINGERPRINT: fp })),
      { dependsOn: [packages], stdin: pem, secretOutput: true },
    );
    // 5. haproxy.cfg: checked with haproxy -c, then a seamless reload; re-run when the certificate changes too.
    const haproxyCfg = renderHaproxyConfig({ registryHostname: s.registryHostname, backends: s.backends, healthCheckPath: s.healthCheckPath });
    const config = step(
      "config",
      tlsFingerprint.apply((fp) => lb("config", { CONFIG_PATH: HAPROXY_CONFIG_PATH, CONFIG: haproxyCfg, REGISTRY_HOSTNAME: s.registryHostname, HTTPS_PORT, TLS_FINGERPRINT: fp })),
      { dependsOn: [tls, firewall] },
    );
    // Destroy hook: `create` does nothing; `delete` stops HAProxy and removes the key.
    steps.lifecycle = new command.remote.Command(
      `${name}-lifecycle`,
      { connection, create: "true", delete: sshCommand(lb("destroy", { CERT_DIR: HAPROXY_CERT_DIR }), { sudo, label: "lb-destroy" }), logging: "stdoutAndStderr", addPreviousOutputInEnv: false },
      { ...child, dependsOn: [config] },
    );

    this.url = pulumi.output(`https://${s.registryHostname}`);
    this.configSha256 = pulumi.output(sha256Hex(haproxyCfg));
    this.ready = config;
    this.steps = steps;
    this.registerOutputs({ url: this.url, configSha256: this.configSha256 });
  }
}
