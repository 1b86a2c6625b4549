// QuayClient: the one place that talks HTTP to Quay's REST API.
//
// Providers load this module from bin/ (providers/lazy.ts); it is not serialized into state. State shared
// by every provider of one process (the concurrency limiter, shared reads) lives on globalThis, so that
// each provider module's copy of the client sees the same limits.
import fetch from "node-fetch";
import { z } from "zod";
import { noteWrite, shareRead, sharedRead } from "./shared-reads";

export type HttpMethod = "GET" | "HEAD" | "POST" | "PUT" | "DELETE";

export interface QuayClientOptions {
  /** Base URL of the Quay instance, e.g. `https://quay.example.com` (no `/api/v1`). */
  endpoint: string;
  /** Bearer token (an OAuth access token). Never logged, never part of an error. */
  token?: string;
  /**
   * Tokens to try, in order, when Quay rejects `token` as invalid or expired (e.g. an explicit
   * `QUAY_TOKEN` that rescues a refresh after the stored token was revoked outside Pulumi).
   */
  fallbackTokens?: string[];
  /** Per-attempt timeout in milliseconds. */
  timeoutMs?: number;
  /** How many times a request that is safe to repeat is retried after the first attempt. */
  retries?: number;
  /** First backoff step in milliseconds; doubles per attempt, with full jitter. */
  backoffBaseMs?: number;
  /** Ceiling of one backoff step in milliseconds. */
  backoffMaxMs?: number;
  /** Concurrency cap shared by every client of this process (the first client's value wins). */
  maxConcurrent?: number;
  /** Receives one line per retry; never given headers or bodies. */
  log?: (message: string) => void;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /**
   * Whether repeating the request is harmless. Defaults to true for GET/HEAD and false otherwise.
   * Quay's robot PUT, team-member PUT, org/repo POST and prototype POST are not idempotent; team PUT
   * and permission PUT are upserts and may be marked safe by the caller.
   */
  idempotent?: boolean;
}

export interface QuayResponse<T = unknown> {
  status: number;
  body: T;
  headers: Record<string, string>;
}

/** One error type for everything Quay (or the network on the way) answers badly. */
export class QuayApiError extends Error {
  readonly method: string;
  readonly path: string;
  /** HTTP status, or 0 when no response arrived (timeout, reset, refused). */
  readonly status: number;
  /** Quay's own message, read from whichever body shape it used. */
  readonly quayMessage: string;
  /** Quay's `error_type` (ApiException bodies, endpoints/exception.py), when present. */
  readonly errorType?: string;
  /** True when the request may have been applied although no success was seen (timeout, reset, 5xx). */
  readonly ambiguous: boolean;

  constructor(init: { method: string; path: string; status: number; quayMessage: string; errorType?: string; ambiguous?: boolean }) {
    const message = `Quay API ${init.method} ${init.path} failed: ${init.status === 0 ? "no response" : init.status} ${init.quayMessage}`.trim();
    super(message);
    // Own properties, set explicitly, so that they show when the error is logged or compared as an object.
    this.message = message;
    this.name = "QuayApiError";
    this.method = init.method;
    this.path = init.path;
    this.status = init.status;
    this.quayMessage = init.quayMessage;
    this.errorType = init.errorType;
    this.ambiguous = init.ambiguous ?? false;
  }
}

export function isQuayApiError(e: unknown): e is QuayApiError {
  return typeof e === "object" && e !== null && (e as { name?: unknown }).name === "QuayApiError";
}

/**
 * Quay's message from any of its error body shapes (github.com/quay/quay): `detail`/`error_message` of an
 * ApiException (endpoints/exception.py), `message` of a Flask-RESTful `abort` (e.g. endpoints/csrf.py),
 * `error` of some endpoints, the registry's `errors[]`
 * (endpoints/v2/errors.py), or a plain-text body.
 */
export function readQuayMessage(body: unknown): string {
  if (typeof body === "string") return body.trim().slice(0, 500);
  if (body && typeof body === "object") {
    const b = body as Record<string, unknown>;
    for (const key of ["detail", "error_message", "message", "error", "error_description"]) {
      if (typeof b[key] === "string" && b[key]) return b[key] as string;
    }
    if (Array.isArray(b.errors) && b.errors.length > 0) {
      const first = b.errors[0] as Record<string, unknown>;
      if (typeof first?.message === "string") return first.message;
    }
  }
  return "";
}

/** Encodes one path segment; `+` stays literal (robot names), everything else outside [A-Za-z0-9._~-] is escaped. */
export function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/%2B/gi, "+");
}

/** `namespace/repo/with/slashes` as Quay's `apirepopath` wants it: slashes raw, each segment encoded. */
export function repoPath(namespace: string, repository: string): string {
  return [namespace, ...repository.split("/")].map(encodeSegment).join("/");
}

/** Builds `/api/v1/...` paths from a template literal, encoding every interpolated value as one segment. */
export function apiPath(strings: TemplateStringsArray, ...values: string[]): string {
  let out = "/api/v1";
  strings.forEach((s, i) => {
    out += s;
    if (i < values.length) out += encodeSegment(values[i]);
  });
  return out;
}

interface Limiter {
  active: number;
  max: number;
  waiting: Array<() => void>;
}

/** The process-wide concurrency limiter (shared by every client and every provider module of the process). */
function processLimiter(max: number): Limiter {
  const key = Symbol.for("quay-mirror.client.limiter");
  const g = globalThis as unknown as Record<symbol, Limiter | undefined>;
  let limiter = g[key];
  if (!limiter) {
    limiter = { active: 0, max: Math.max(1, max), waiting: [] };
    g[key] = limiter;
  }
  return limiter;
}

async function withSlot<T>(limiter: Limiter, fn: () => Promise<T>): Promise<T> {
  if (limiter.active >= limiter.max) {
    await new Promise<void>((resolve) => limiter.waiting.push(resolve));
  } else {
    limiter.active++;
  }
  try {
    return await fn();
  } finally {
    const next = limiter.waiting.shift();
    // Hand the slot straight to the next waiter; otherwise free it.
    if (next) next();
    else limiter.active--;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Full-jitter exponential backoff; honours Retry-After (seconds) when Quay's proxy sends one. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, retryAfter?: string, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** attempt);
  const jittered = Math.floor(random() * ceiling);
  const hinted = retryAfter && /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter.trim()) * 1000 : 0;
  return Math.max(jittered, Math.min(hinted, maxMs * 4));
}

/** A rejected bearer token: 401 on reads; 403 "CSRF token was invalid or missing" on writes (the 403 is raised by endpoints/csrf.py in github.com/quay/quay). */
/** An answer worth sharing with the other deployment of a CLI run: success or a definite "no", never a token rejection. */
function isFinalAnswer(status: number, body: unknown): boolean {
  if (status >= 200 && status < 300) return true;
  return (status === 400 || status === 403 || status === 404) && !isTokenRejection(status, readQuayMessage(body));
}

function isTokenRejection(status: number, message: string): boolean {
  return status === 401 || (status === 403 && /CSRF token was invalid or missing/i.test(message));
}

export class QuayClient {
  readonly endpoint: string;
  private readonly tokens: string[];
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly maxConcurrent: number;
  private readonly log?: (message: string) => void;
  private activeToken: number;

  constructor(options: QuayClientOptions) {
    this.activeToken = 0;
    this.endpoint = options.endpoint.replace(/\/+$/, "");
    this.tokens = [options.token, ...(options.fallbackTokens ?? [])].filter((t, i, all): t is string => !!t && all.indexOf(t) === i);
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.retries = options.retries ?? 5;
    this.backoffBaseMs = options.backoffBaseMs ?? 200;
    this.backoffMaxMs = options.backoffMaxMs ?? 5_000;
    this.maxConcurrent = options.maxConcurrent ?? 8;
    this.log = options.log;
  }

  async get<T = unknown>(path: string, options: Omit<RequestOptions, "body"> = {}): Promise<QuayResponse<T>> {
    return this.request<T>("GET", path, options);
  }
  async post<T = unknown>(path: string, body?: unknown, options: Omit<RequestOptions, "body"> = {}): Promise<QuayResponse<T>> {
    return this.request<T>("POST", path, { ...options, body });
  }
  async put<T = unknown>(path: string, body?: unknown, options: Omit<RequestOptions, "body"> = {}): Promise<QuayResponse<T>> {
    return this.request<T>("PUT", path, { ...options, body });
  }
  async delete<T = unknown>(path: string, options: Omit<RequestOptions, "body"> = {}): Promise<QuayResponse<T>> {
    return this.request<T>("DELETE", path, options);
  }

  /**
   * Sends one logical request: retries what is safe to repeat (429, 5xx, connection errors), falls back
   * to the next token when Quay rejects one, and throws QuayApiError for any non-2xx answer.
   */
  async request<T = unknown>(method: HttpMethod, path: string, options: RequestOptions = {}): Promise<QuayResponse<T>> {
    const idempotent = options.idempotent ?? (method === "GET" || method === "HEAD");
    const url = this.endpoint + path + queryString(options.query);
    const displayPath = path + queryString(options.query);
    // Start from the token that last worked: once Quay rejected one, this client stops sending it.
    let tokenIndex = this.activeToken;
    for (let attempt = 0; ; attempt++) {
      const token = this.tokens[tokenIndex];
      let outcome: Attempt;
      // The other deployment of the same CLI run (preview, then update) may have read this already
      // (shared-reads.ts); any write ends that for the rest of the run, before it is sent.
      const shared = method === "GET" ? sharedRead(url, token) : undefined;
      if (shared) {
        outcome = { kind: "response", ...shared };
      } else {
        if (method !== "GET" && method !== "HEAD") noteWrite();
        try {
          outcome = await withSlot(processLimiter(this.maxConcurrent), () => this.attempt(method, url, token, options.body));
        } catch (e) {
          outcome = { kind: "network", error: e as Error };
        }
        if (method === "GET" && outcome.kind === "response" && isFinalAnswer(outcome.status, outcome.body)) {
          shareRead(url, token, { status: outcome.status, body: outcome.body, headers: outcome.headers });
        }
      }

      if (outcome.kind === "response") {
        const { status, body, headers } = outcome;
        if (status >= 200 && status < 300) return { status, body: body as T, headers };
        const quayMessage = this.scrub(readQuayMessage(body));
        if (isTokenRejection(status, quayMessage) && tokenIndex + 1 < this.tokens.length) {
          tokenIndex++;
          this.activeToken = tokenIndex;
          this.log?.(`Quay rejected a token on ${method} ${displayPath} (${status}); trying the next configured token`);
          attempt--;
          continue;
        }
        // 429 (nginx rate limit) and 503 (read-only/overload) are refused before the view runs:
        // repeating them is safe for every method. Other 5xx may have been applied.
        const refusedUnapplied = status === 429 || status === 503;
        const retryable = refusedUnapplied || (status >= 500 && idempotent);
        if (retryable && attempt < this.retries) {
          const delay = backoffDelay(attempt, this.backoffBaseMs, this.backoffMaxMs, headers["retry-after"]);
          this.log?.(`Quay answered ${status} to ${method} ${displayPath}; retry ${attempt + 1}/${this.retries} in ${delay} ms`);
          await sleep(delay);
          continue;
        }
        throw new QuayApiError({
          method,
          path: displayPath,
          status,
          quayMessage: quayMessage + (isTokenRejection(status, quayMessage) ? tokenHint() : ""),
          errorType: typeof (body as { error_type?: unknown })?.error_type === "string" ? (body as { error_type: string }).error_type : undefined,
          ambiguous: status >= 500 && !refusedUnapplied,
        });
      }

      // No response at all. Connection refused means nothing was sent; anything else is ambiguous.
      const code = (outcome.error as { code?: string }).code ?? "";
      const notSent = code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "EAI_AGAIN";
      const reason = outcome.error.name === "AbortError" ? `timed out after ${this.timeoutMs} ms` : this.scrub(`${code || outcome.error.name}: ${outcome.error.message}`);
      if ((idempotent || notSent) && attempt < this.retries) {
        const delay = backoffDelay(attempt, this.backoffBaseMs, this.backoffMaxMs);
        this.log?.(`${method} ${displayPath}: ${reason}; retry ${attempt + 1}/${this.retries} in ${delay} ms`);
        await sleep(delay);
        continue;
      }
      throw new QuayApiError({ method, path: displayPath, status: 0, quayMessage: reason, ambiguous: !notSent });
    }
  }

  /**
   * Follows Quay's `next_page` tokens and concatenates `body[itemsKey]` of every page.
   * `onPage` sees each page's items as they arrive (for progress or early exits).
   */
  async paginate<T = unknown>(path: string, itemsKey: string, query: RequestOptions["query"] = {}): Promise<T[]> {
    const items: T[] = [];
    let nextPage: string | undefined;
    for (let page = 0; page < 100_000; page++) {
      const { body } = await this.get<Record<string, unknown>>(path, { query: { ...query, next_page: nextPage } });
      const pageItems = body?.[itemsKey];
      if (!Array.isArray(pageItems)) {
        throw new QuayApiError({ method: "GET", path, status: 200, quayMessage: `unexpected response: no "${itemsKey}" list` });
      }
      items.push(...(pageItems as T[]));
      nextPage = typeof body.next_page === "string" && body.next_page ? body.next_page : undefined;
      if (!nextPage) return items;
    }
    throw new QuayApiError({ method: "GET", path, status: 200, quayMessage: "pagination did not end" });
  }

  /** Validates a response body where the code relies on its fields; a mismatch is a QuayApiError. */
  parse<S extends z.ZodType>(schema: S, response: QuayResponse, method: string, path: string): z.infer<S> {
    const result = schema.safeParse(response.body);
    if (!result.success) {
      const issue = result.error.issues[0];
      const where = issue && issue.path.length ? issue.path.join(".") : "(body)";
      throw new QuayApiError({ method, path, status: response.status, quayMessage: `unexpected response body at ${where}: ${issue?.message ?? "invalid"}` });
    }
    return result.data;
  }

  private async attempt(method: HttpMethod, url: string, token: string | undefined, body: unknown): Promise<Attempt> {
    const headers: Record<string, string> = { Accept: "application/json", "User-Agent": "quay-mirror" };
    if (token) headers.Authorization = `Bearer ${token}`;
    let payload: string | undefined;
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    try {
      const res = await fetch(url, { method, headers, body: payload, signal: controller.signal as never, redirect: "manual" });
      const text = await res.text();
      let parsed: unknown = text;
      if (text.length > 0) {
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = text;
        }
      } else {
        parsed = "";
      }
      const responseHeaders: Record<string, string> = {};
      res.headers.forEach((value, name) => {
        responseHeaders[name.toLowerCase()] = value;
      });
      return { kind: "response", status: res.status, body: parsed, headers: responseHeaders };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Removes any configured token from text that could end up in an error or a log line. */
  private scrub(text: string): string {
    let out = text;
    for (const token of this.tokens) {
      if (token.length >= 4) out = out.split(token).join("<redacted>");
    }
    return out;
  }
}

type Attempt =
  | { kind: "response"; status: number; body: unknown; headers: Record<string, string> }
  | { kind: "network"; error: Error };

function queryString(query: RequestOptions["query"]): string {
  if (!query) return "";
  const parts = Object.entries(query)
    .filter(([, v]) => v !== undefined && v !== "")
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return parts.length ? `?${parts.join("&")}` : "";
}

function tokenHint(): string {
  return " (the Quay token was rejected: it may be expired or revoked; set QUAY_TOKEN or `pulumi config set --secret quay:token < token-file` (the value on stdin, never on the command line) to use another one)";
}
