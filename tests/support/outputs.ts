// Reading Outputs in tests that run components under pulumi.runtime.setMocks.
import * as pulumi from "@pulumi/pulumi";

/** The value an Input resolves to. */
export const unwrap = <T>(o: pulumi.Input<T> | undefined): Promise<T> =>
  new Promise((resolve) => pulumi.output(o as pulumi.Input<T>).apply((v) => resolve(v as T)));

/** Whether a value is a secret Output (plain values are not). */
export const isSecret = (o: unknown): Promise<boolean> => (pulumi.Output.isInstance(o) ? pulumi.isSecret(o) : Promise.resolve(false));
