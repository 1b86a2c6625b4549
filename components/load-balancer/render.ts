// Pure functions that render what LoadBalancer installs: haproxy.cfg (from validated values only) and the
// shell steps filled from templates/*.sh, every value quoted by the one helper (shq, through the quay-host
// renderer). No Pulumi here: everything is testable with plain values.
import { renderTemplateText, StepValue } from "../quay-host/render";
import { readComponentTemplate } from "../templates";

// ---- fixed facts of the host layout ----------------------------------------------------------------

export const HAPROXY_CONFIG_PATH = "/etc/haproxy/haproxy.cfg";
/** Certificate chain + key in one PEM (HAProxy's `crt`), root-only (0600) in a root-only directory (0700). */
export const HAPROXY_CERT_DIR = "/etc/haproxy/quay-mirror";
export const HAPROXY_CERT_PATH = `${HAPROXY_CERT_DIR}/registry.pem`;
/** Admin socket (level admin: a later rolling upgrade drains nodes through it), group haproxy only. */
export const HAPROXY_ADMIN_SOCKET = "/run/haproxy/admin.sock";
export const HTTPS_PORT = 443;
export const LB_APT_PACKAGES = ["ca-certificates", "curl", "haproxy", "ufw"] as const;

export interface Backend {
  /** A Quay node: IPv4 address or DNS name (validated by config/load-balancer.ts). */
  address: string;
  port: number;
}

export interface HaproxyConfigInput {
  registryHostname: string;
  backends: Backend[];
  healthCheckPath: string;
  /** The PEM HAProxy loads (tests point it at a local file). */
  certPath?: string;
  /** The admin socket (tests point it at a temporary directory). */
  adminSocket?: string;
}

const SAFE_TOKEN = /^[A-Za-z0-9._:/-]+$/;

function token(value: string, what: string): string {
  // haproxy.cfg has its own quoting; the values reaching it were validated to a set of characters that needs none.
  if (!SAFE_TOKEN.test(value)) throw new Error(`renderHaproxyConfig: ${what} ${JSON.stringify(value)} has characters haproxy.cfg would need to quote`);
  return value;
}

/**
 * haproxy.cfg: TLS on :443 for the registry's name (the user's certificate), HTTP to the Quay nodes' :8080 with
 * health checks on healthCheckPath; the master-worker mode of Debian's unit makes `systemctl reload` seamless
 * (the new worker takes the listening sockets over; the old one finishes its connections). Long timeouts: a
 * layer push is one long request.
 */
export function renderHaproxyConfig(input: HaproxyConfigInput): string {
  const host = token(input.registryHostname, "registryHostname");
  const check = token(input.healthCheckPath, "healthCheckPath");
  const cert = token(input.certPath ?? HAPROXY_CERT_PATH, "certPath");
  const socket = token(input.adminSocket ?? HAPROXY_ADMIN_SOCKET, "adminSocket");
  if (input.backends.length === 0) throw new Error("renderHaproxyConfig: no backends");
  const servers = input.backends.map((b, i) => {
    if (!Number.isInteger(b.port) || b.port < 1 || b.port > 65535) throw new Error(`renderHaproxyConfig: backend port ${b.port}`);
    return `    server quay-${i + 1} ${token(b.address, "backend address")}:${b.port} check inter 5s fall 3 rise 2`;
  });
  return [
    "# Managed by quay-mirror (Pulumi LoadBalancer). Local edits are overwritten on the next change.",
    "global",
    "    log /dev/log local0",
    "    chroot /var/lib/haproxy",
    `    stats socket ${socket} mode 660 level admin expose-fd listeners`,
    "    stats timeout 30s",
    "    user haproxy",
    "    group haproxy",
    "    ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets",
    "    ssl-default-bind-ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305",
    "    ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256",
    "",
    "defaults",
    "    log global",
    "    mode http",
    "    option httplog",
    "    option dontlognull",
    "    option forwardfor",
    "    timeout connect 5s",
    "    timeout http-request 30s",
    "    timeout client 600s",
    "    timeout server 600s",
    "",
    "frontend registry",
    `    bind :${HTTPS_PORT} ssl crt ${cert} alpn http/1.1`,
    "    http-request set-header X-Forwarded-Proto https",
    "    default_backend quay",
    "",
    "backend quay",
    "    balance roundrobin",
    "    option httpchk",
    `    http-check send meth GET uri ${check} ver HTTP/1.1 hdr Host ${host}`,
    "    http-check expect status 200",
    // A node whose name does not resolve (yet) starts in maintenance instead of failing the whole config.
    "    default-server init-addr libc,none",
    ...servers,
    "",
  ].join("\n");
}

// ---- step templates -----------------------------------------------------------------------------------

export const LB_STEP_TEMPLATES = ["packages", "firewall", "tls", "config", "destroy"] as const;
export type LbStepTemplate = (typeof LB_STEP_TEMPLATES)[number];

export function readLbTemplate(name: LbStepTemplate): string {
  if (!(LB_STEP_TEMPLATES as readonly string[]).includes(name)) throw new Error(`unknown step template ${name}`);
  return readComponentTemplate("load-balancer", name);
}

/** Fills templates/<name>.sh with renderTemplateText (each value quoted by shq, placeholders only in the values block). */
export function renderLbStep(name: LbStepTemplate, values: Record<string, StepValue>): string {
  return renderTemplateText(readLbTemplate(name), values, `load-balancer/${name}`);
}
