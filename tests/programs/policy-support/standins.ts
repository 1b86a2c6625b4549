// A stand-in with the type token of Quay's RepositorySet but the list-plus-visibility shape of its
// arguments on the wire (the real resource stores a map name → visibility): the policy accepts both, and a
// preview only needs the type and the inputs (check passes them through). create refuses.
import * as pulumi from "@pulumi/pulumi";

class PreviewOnlyProvider implements pulumi.dynamic.ResourceProvider {
  static readonly instance = new PreviewOnlyProvider();
  async check(_olds: unknown, news: Record<string, unknown>): Promise<pulumi.dynamic.CheckResult> {
    return { inputs: news };
  }
  async create(): Promise<pulumi.dynamic.CreateResult> {
    throw new Error("policy test stand-in: preview only");
  }
}

/** `pulumi-nodejs:dynamic/quay:RepositorySet` with `repositories: string[]` and `visibility` as inputs. */
export class RepositorySetStandIn extends pulumi.dynamic.Resource {
  constructor(
    name: string,
    args: { namespace: pulumi.Input<string>; repositories: pulumi.Input<string>[]; visibility: pulumi.Input<"private" | "public"> },
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(PreviewOnlyProvider.instance, name, args, opts, "quay", "RepositorySet");
  }
}

/** The test's Quay (the emulator) and which variant of the program to declare. */
export function policyTestConfig(): { connection: { endpoint: string; token: pulumi.Output<string> }; violating: boolean } {
  const config = new pulumi.Config("test");
  const variant = config.require("variant");
  if (variant !== "violating" && variant !== "passing") throw new Error(`test:variant must be violating or passing, not ${variant}`);
  return { connection: { endpoint: config.require("endpoint"), token: config.requireSecret("token") }, violating: variant === "violating" };
}
