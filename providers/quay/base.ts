// What every Quay provider shares: the stack's `quay:token` override, read once in `configure` (the
// engine passes the stack config to dynamic providers), so a refresh or destroy can be rescued after the
// stored token was revoked outside Pulumi.
import * as pulumi from "@pulumi/pulumi";
import { configuredToken } from "./common";

export abstract class QuayProvider {
  /** The stack's `quay:token`, when set; tried after the stored token and QUAY_TOKEN (common.ts). */
  protected overrideToken?: string;

  async configure(req: pulumi.dynamic.ConfigureRequest): Promise<void> {
    this.overrideToken = configuredToken(req);
  }
}
