// RandomSecret: a generated secret that never changes once created (passwords, SECRET_KEY,
// DATABASE_SECRET_KEY), drawn uniformly from an alphabet with Node's CSPRNG. It stands in for @pulumi/random's RandomPassword: that provider's plugin cannot be
// built from the registries this project installs from (see docs/toolchain.md), and a dynamic resource
// needs no plugin at all. The value is generated in `create` with Node's CSPRNG and kept, encrypted, in
// state; `keepers` (any values) force a new secret when they change.
import * as pulumi from "@pulumi/pulumi";
import { lazyProvider } from "../lazy";

export interface RandomSecretArgs {
  /** Length in characters (default 32). */
  length?: pulumi.Input<number>;
  /** Characters to draw from (default: letters and digits, safe in URLs, YAML and shell). */
  alphabet?: pulumi.Input<string>;
  /** Changing any keeper generates a new secret (replacement); nothing else ever does. */
  keepers?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

interface RandomSecretProps {
  length: number;
  alphabet: string;
  keepers?: Record<string, string>;
  result?: string;
}

/** Letters and digits: safe in URLs, YAML and shell. */
export const ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const DEFAULT_ALPHABET = ALPHANUMERIC;

export class RandomSecretProvider implements pulumi.dynamic.ResourceProvider<RandomSecretProps, RandomSecretProps> {
  static readonly instance = new RandomSecretProvider();

  async check(_olds: RandomSecretProps, news: RandomSecretProps): Promise<pulumi.dynamic.CheckResult<RandomSecretProps>> {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    const length = news.length ?? 32;
    const alphabet = news.alphabet ?? DEFAULT_ALPHABET;
    if (!Number.isInteger(length) || length < 8 || length > 4096) failures.push({ property: "length", reason: "length must be a whole number from 8 to 4096" });
    if (typeof alphabet !== "string" || new Set(alphabet).size < 16) failures.push({ property: "alphabet", reason: "alphabet must have at least 16 distinct characters" });
    return { inputs: { ...news, length, alphabet }, failures };
  }

  /**
   * Generated once: only a change of `keepers` makes a new secret. A new length or alphabet is ignored for
   * an existing secret, because keys such as Quay's DATABASE_SECRET_KEY must never change by accident.
   */
  async diff(_id: string, olds: RandomSecretProps, news: RandomSecretProps): Promise<pulumi.dynamic.DiffResult> {
    const keepersChanged = JSON.stringify(olds.keepers ?? null) !== JSON.stringify(news.keepers ?? null);
    return keepersChanged ? { changes: true, replaces: ["keepers"] } : { changes: false };
  }

  async create(inputs: RandomSecretProps): Promise<pulumi.dynamic.CreateResult<RandomSecretProps>> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const crypto = require("crypto") as typeof import("crypto");
    const chars = [...new Set(inputs.alphabet)];
    let result = "";
    while (result.length < inputs.length) result += chars[crypto.randomInt(chars.length)];
    return { id: crypto.randomUUID(), outs: { ...inputs, result } };
  }
}

// What each resource stores as its provider: a small shim that loads RandomSecretProvider from the project (providers/lazy.ts).
const providerShim = lazyProvider("providers/local/random-secret", "RandomSecretProvider");

/** A secret generated once and kept. `result` is a secret output. */
export class RandomSecret extends pulumi.dynamic.Resource {
  declare readonly result: pulumi.Output<string>;

  constructor(name: string, args: RandomSecretArgs = {}, opts?: pulumi.CustomResourceOptions) {
    super(providerShim, name, { ...args, result: undefined }, pulumi.mergeOptions(opts, { additionalSecretOutputs: ["result"] }), "local", "RandomSecret");
  }
}
