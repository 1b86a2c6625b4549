// Fault injection, request counters, latency and a concurrency cap (test support, not Quay).
export interface FaultRule {
  method?: string;
  path?: string | RegExp;
  status?: number;
  reset?: boolean;
  count?: number;
  fraction?: number;
  latencyMs?: number;
}

/** mulberry32: a small seeded PRNG so that `fraction` faults are reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface ActiveRule extends FaultRule {
  remaining: number;
}

export class Faults {
  private rules: ActiveRule[] = [];
  constructor(private random: () => number) {}

  add(rule: FaultRule): void {
    this.rules.push({ ...rule, remaining: rule.count ?? Infinity });
  }
  clear(): void {
    this.rules = [];
  }
  list(): FaultRule[] {
    return this.rules.map((r) => ({ ...r, path: r.path instanceof RegExp ? `re:${r.path.source}` : r.path }));
  }

  /** Finds (and consumes) the first rule that applies to this request. */
  take(method: string, path: string, template: string | null): FaultRule | null {
    for (const r of this.rules) {
      if (r.remaining <= 0) continue;
      if (r.method && r.method.toUpperCase() !== method.toUpperCase()) continue;
      if (r.path !== undefined) {
        if (r.path instanceof RegExp) {
          if (!r.path.test(path)) continue;
        } else if (r.path !== path && r.path !== template && !(r.path.endsWith("*") && path.startsWith(r.path.slice(0, -1)))) continue;
      }
      if (r.fraction !== undefined && this.random() >= r.fraction) continue;
      r.remaining--;
      return r;
    }
    return null;
  }
}

export class Counters {
  private counts = new Map<string, number>();
  add(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.counts.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }
  reset(): void {
    this.counts.clear();
  }
  total(): number {
    let n = 0;
    for (const v of this.counts.values()) n += v;
    return n;
  }
  writes(): number {
    let n = 0;
    for (const [k, v] of this.counts) if (!k.startsWith("GET ") && !k.startsWith("HEAD ") && !k.startsWith("OPTIONS ")) n += v;
    return n;
  }
}

/** A FIFO semaphore: requests beyond the cap wait for a slot. */
export class Limiter {
  private active = 0;
  private queue: (() => void)[] = [];
  constructor(public max: number) {}
  async acquire(): Promise<void> {
    if (!(this.max > 0) || this.active < this.max) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.queue.push(resolve));
    this.active++;
  }
  release(): void {
    this.active--;
    const next = this.queue.shift();
    if (next) next();
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A Quay-like (or nginx-like) response for an injected status. */
export function faultBody(status: number, baseUrl: string): { body: string; contentType: string } {
  const problem = (type: string, detail: string) => ({
    body: JSON.stringify({ detail, error_message: detail, error_type: type, status, title: type, type: `${baseUrl}/api/v1/error/${type}` }) + "\n",
    contentType: "application/json",
  });
  switch (status) {
    case 400: return problem("invalid_request", "Request error.");
    case 401: return problem("invalid_token", "Requires authentication");
    case 403: return problem("insufficient_scope", "Unauthorized");
    case 404: return problem("not_found", "Not Found");
    case 409: return { body: JSON.stringify({ detail: "Conflict" }) + "\n", contentType: "application/json" };
    case 500: return { body: "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n<h1>Internal Server Error</h1>\n<p>The server encountered an internal error and was unable to complete your request. Either the server is overloaded or there is an error in the application.</p>\n", contentType: "text/html; charset=utf-8" };
    case 503: return { body: JSON.stringify({ message: "System is currently read-only. Pulls will succeed but all write operations are currently suspended.", is_readonly: true }) + "\n", contentType: "application/json" };
    default: {
      const text: Record<number, string> = { 429: "Too Many Requests", 502: "Bad Gateway", 504: "Gateway Time-out" };
      const t = text[status] ?? "Error";
      return { body: `<html>\r\n<head><title>${status} ${t}</title></head>\r\n<body>\r\n<center><h1>${status} ${t}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`, contentType: "text/html" };
    }
  }
}
