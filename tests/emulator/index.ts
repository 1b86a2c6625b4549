// Quay API emulator: a real HTTP server on 127.0.0.1 that answers like Project Quay v3.18+.
import * as http from "node:http";
import { EmulatorServer, QuayEmulator, QuayEmulatorOptions } from "./server";

export type { QuayEmulator, QuayEmulatorOptions } from "./server";
export type { FaultRule } from "./faults";
export { EmulatorServer } from "./server";

/**
 * The configuration of the server the conformance transcript was recorded on
 * (tests/fixtures/quay-conformance/README). Used when `config` is omitted altogether;
 * when a `config` is given, keys left out take Quay's config.py defaults.
 */
export const RECORDED_SERVER_CONFIG: Record<string, unknown> = {
  AUTHENTICATION_TYPE: "Database",
  FEATURE_USER_INITIALIZE: true,
  SUPER_USERS: ["quayadmin"],
  FEATURE_MAILING: false,
  FEATURE_PROXY_CACHE: true,
  FEATURE_EXTENDED_REPOSITORY_NAMES: true,
  FEATURE_ANONYMOUS_ACCESS: true,
  FEATURE_SUPERUSERS_FULL_ACCESS: false,
  SSRF_ALLOWED_HOSTS: ["192.0.2.10"],
};

function postJson(url: string, body: unknown): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const data = Buffer.from(JSON.stringify(body));
    const req = http.request(url, { method: "POST", headers: { "Content-Type": "application/json", "Content-Length": data.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json: unknown = text;
        try {
          json = JSON.parse(text);
        } catch {
          /* keep text */
        }
        resolve({ status: res.statusCode ?? 0, json });
      });
    });
    req.on("error", reject);
    req.end(data);
  });
}

export async function startQuayEmulator(opts: QuayEmulatorOptions = {}): Promise<QuayEmulator> {
  const server = new EmulatorServer({ ...opts, config: opts.config ?? RECORDED_SERVER_CONFIG });
  const host = opts.host ?? "127.0.0.1";
  const url = await server.listen(host, opts.port ?? 0);
  return {
    url,
    close: () => server.close(),
    faults: { add: (rule) => server.faults.add(rule), clear: () => server.faults.clear() },
    counter: {
      snapshot: () => server.counters.snapshot(),
      reset: () => server.counters.reset(),
      writes: () => server.counters.writes(),
      total: () => server.counters.total(),
    },
    async initialize(username = "quayadmin", password = "password-123") {
      const res = await postJson(`${url}/api/v1/user/initialize`, { username, password, email: `${username}@example.com`, access_token: true });
      const body = res.json as { access_token?: string };
      if (res.status !== 200 || !body.access_token) {
        throw new Error(`quay-emulator: initialize failed with ${res.status}: ${JSON.stringify(res.json)} (is FEATURE_USER_INITIALIZE true?)`);
      }
      return { token: body.access_token, username, password };
    },
  };
}
