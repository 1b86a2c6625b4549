// Stand-ins with the type tokens and inputs of resources the policy pack guards but whose providers are
// written elsewhere (MinIO's Bucket; Quay's RepositorySet): a preview only needs the type and the inputs
// (check passes them through), so the policy tests do not wait for those providers. create refuses.
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

/** `pulumi-nodejs:dynamic/minio:Bucket` with the inputs of the MinIO Bucket provider. */
export class BucketStandIn extends pulumi.dynamic.Resource {
  constructor(name: string, args: { name: pulumi.Input<string>; lifecycleRules: pulumi.Input<unknown[]> }, opts?: pulumi.CustomResourceOptions) {
    super(PreviewOnlyProvider.instance, name, args, opts, "minio", "Bucket");
  }
}

/** `pulumi-nodejs:dynamic/quay:RepositorySet`: one namespace's repositories as one resource. */
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
