// GeneratedSecret: a random string made once with Node's crypto inside a dynamic provider, kept as a
// secret output and never regenerated (diff always answers "no changes").
//
// Why it exists: the lab's engine cannot load the `random` resource plugin. pulumi-random 4.21.2's
// provider module is not served by the Go module proxy (docs/toolchain.md), and without the plugin
// `random.RandomPassword` cannot be created. `QuayHost` uses RandomPassword by default, as designed, and
// uses this resource when `secretGenerator: "node-crypto"` is set.
//
// Serialization rules for dynamic providers (DESIGN.md §4): no captured module state; `require` inside
// the methods.
import * as pulumi from "@pulumi/pulumi";

export interface GeneratedSecretArgs {
  /** Number of characters. */
  length: number;
  /** The characters to draw from (each equally likely). */
  alphabet: string;
}

export class GeneratedSecretProvider implements pulumi.dynamic.ResourceProvider {
  public static readonly instance = new GeneratedSecretProvider();

  async check(_olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.CheckResult> {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    const length = news.length;
    const alphabet = news.alphabet;
    if (typeof length !== "number" || !Number.isInteger(length) || length < 16 || length > 256) failures.push({ property: "length", reason: "length must be an integer from 16 to 256" });
    if (typeof alphabet !== "string" || new Set(alphabet).size < 16 || new Set(alphabet).size !== alphabet.length) {
      failures.push({ property: "alphabet", reason: "alphabet must have at least 16 distinct characters, each once" });
    }
    return { inputs: news, failures };
  }

  async create(inputs: Record<string, any>): Promise<pulumi.dynamic.CreateResult> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nodeCrypto = require("crypto") as typeof import("crypto");
    const alphabet: string = inputs.alphabet;
    const length: number = inputs.length;
    // rejection sampling: every character equally likely
    const limit = 256 - (256 % alphabet.length);
    let value = "";
    while (value.length < length) {
      for (const byte of nodeCrypto.randomBytes(2 * length)) {
        if (byte < limit) value += alphabet[byte % alphabet.length];
        if (value.length === length) break;
      }
    }
    return { id: nodeCrypto.randomUUID(), outs: { length, alphabet, value } };
  }

  /** Generated once: no input change ever regenerates the value (QuayHost's keys must never rotate). */
  async diff(_id: string, _olds: Record<string, unknown>, _news: Record<string, unknown>): Promise<pulumi.dynamic.DiffResult> {
    return { changes: false };
  }

  async read(id: string, props: Record<string, any>): Promise<pulumi.dynamic.ReadResult> {
    return { id, props };
  }
}

export class GeneratedSecret extends pulumi.dynamic.Resource {
  declare readonly value: pulumi.Output<string>;

  constructor(name: string, args: GeneratedSecretArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      GeneratedSecretProvider.instance,
      name,
      { length: args.length, alphabet: args.alphabet, value: undefined },
      pulumi.mergeOptions(opts, { additionalSecretOutputs: ["value"] }),
      "quay-host",
      "GeneratedSecret",
    );
  }
}

export const ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
