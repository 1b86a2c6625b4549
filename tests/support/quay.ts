// Shared fixtures for tests that talk to the Quay API emulator.
import * as pulumi from "@pulumi/pulumi";
import { QuayClient } from "../../providers/quay/client";
import type { QuayConnection } from "../../providers/quay/common";
import { QuayEmulator, QuayEmulatorOptions, RECORDED_SERVER_CONFIG, startQuayEmulator } from "../emulator";

/** The configuration of the lab's Quay (and of the conformance recording): Database auth, no mail. */
export function labQuayConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    // The recording server's settings (Database auth, no mail, proxy cache, initialize), plus the lab's knobs.
    ...RECORDED_SERVER_CONFIG,
    SERVER_HOSTNAME: "quay.v7.comptech-lab.com",
    PREFERRED_URL_SCHEME: "https",
    EXTERNAL_TLS_TERMINATION: true,
    CREATE_NAMESPACE_ON_PUSH: true,
    ...overrides,
  };
}

export interface QuayFixture {
  emulator: QuayEmulator;
  /** The superuser's connection (initialize token with all eight scopes). */
  connection: QuayConnection;
  /** A client with the superuser's token, for arranging and inspecting state behind Pulumi's back. */
  admin: QuayClient;
  close(): Promise<void>;
}

/** Starts a fresh emulator and initializes the superuser `quayadmin`. */
export async function startQuay(options: QuayEmulatorOptions = {}): Promise<QuayFixture> {
  const emulator = await startQuayEmulator({ ...options, config: labQuayConfig(options.config ?? {}) });
  const { token } = await emulator.initialize("quayadmin", "quayadmin-password-1");
  const connection = { endpoint: emulator.url, token };
  const admin = new QuayClient({ endpoint: emulator.url, token, retries: 0 });
  return { emulator, connection, admin, close: () => emulator.close() };
}

/**
 * Serializes a provider instance exactly as the engine does (`() => instance`) and loads it back, so a
 * test can prove the provider captured no secret and still works after the round trip.
 */
export async function roundTripProvider<T extends object>(instance: T): Promise<{ provider: T; text: string; containsSecrets: boolean }> {
  const serialized = await pulumi.runtime.serializeFunction(() => instance, { allowSecrets: true });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const requireFromString = require("require-from-string") as (code: string) => { handler: () => T };
  return { provider: requireFromString(serialized.text).handler(), text: serialized.text, containsSecrets: serialized.containsSecrets };
}

/** The faults every provider must survive: the 5xx and 429 answers a proxy or Quay gives, and a dropped connection. */
export const FAULT_KINDS: [string, { status?: number; reset?: boolean }][] = [
  ["500", { status: 500 }],
  ["502", { status: 502 }],
  ["503", { status: 503 }],
  ["429", { status: 429 }],
  ["reset", { reset: true }],
];

/** A unique, Quay-valid name for one test. */
export function uniqueName(prefix: string): string {
  return `${prefix}${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`.toLowerCase();
}
