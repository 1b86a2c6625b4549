// GeneratedSecret's provider: made once, uniform over its alphabet, never regenerated, and serializable
// the way the engine serializes dynamic providers, without capturing anything secret.
import * as pulumi from "@pulumi/pulumi";
import { ALPHANUMERIC, GeneratedSecretProvider } from "../../components/quay-host/generated-secret";

describe("GeneratedSecretProvider", () => {
  const p = GeneratedSecretProvider.instance;

  test("creates a value of the asked length from the alphabet; two values differ", async () => {
    const a = await p.create({ length: 64, alphabet: ALPHANUMERIC });
    const b = await p.create({ length: 64, alphabet: ALPHANUMERIC });
    expect(a.outs.value).toMatch(/^[A-Za-z0-9]{64}$/);
    expect(a.outs.value).not.toBe(b.outs.value);
    const special = await p.create({ length: 200, alphabet: ALPHANUMERIC + "!#%*+-=?@^_~" });
    expect(special.outs.value).toHaveLength(200);
    for (const ch of special.outs.value as string) expect(ALPHANUMERIC + "!#%*+-=?@^_~").toContain(ch);
  });

  test("never regenerates: diff reports no changes whatever the inputs", async () => {
    expect(await p.diff!("id", { length: 32, alphabet: ALPHANUMERIC, value: "x" }, { length: 64, alphabet: "abc" })).toEqual({ changes: false });
  });

  test("check refuses short lengths and poor alphabets", async () => {
    const r = await p.check!({}, { length: 8, alphabet: "aab" });
    expect(r.failures?.map((f) => f.property).sort()).toEqual(["alphabet", "length"]);
  });

  test("serializes like the engine does, with nothing secret captured, and still works", async () => {
    const sf = await pulumi.runtime.serializeFunction(() => GeneratedSecretProvider.instance, { allowSecrets: true });
    expect(sf.containsSecrets).toBe(false);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const loaded = require("require-from-string")(sf.text).handler();
    const out = await loaded.create({ length: 32, alphabet: ALPHANUMERIC });
    expect(out.outs.value).toMatch(/^[A-Za-z0-9]{32}$/);
  });
});
