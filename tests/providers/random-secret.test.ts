import { ALPHANUMERIC, RandomSecretProvider } from "../../providers/local/random-secret";
import { roundTripProvider } from "../support/quay";

describe("local:RandomSecret", () => {
  const p = RandomSecretProvider.instance;

  it("draws the requested length from the alphabet, differently each time", async () => {
    const a = await p.create({ length: 64, alphabet: ALPHANUMERIC });
    const b = await p.create({ length: 64, alphabet: ALPHANUMERIC });
    expect(a.outs!.result).toMatch(/^[A-Za-z0-9]{64}$/);
    expect(a.outs!.result).not.toBe(b.outs!.result);
    const special = await p.create({ length: 400, alphabet: ALPHANUMERIC + "!#%*+-=?@^_~" });
    for (const ch of special.outs!.result!) expect(ALPHANUMERIC + "!#%*+-=?@^_~").toContain(ch);
    expect(new Set(special.outs!.result).size).toBeGreaterThan(50);
  });

  it("never regenerates, whatever changes, except its keepers", async () => {
    const olds = { length: 32, alphabet: ALPHANUMERIC, result: "x".repeat(32) };
    expect(await p.diff("id", olds, { length: 64, alphabet: "abcdefghijklmnopqrstuvwxyz" })).toEqual({ changes: false });
    expect(await p.diff("id", { ...olds, keepers: { a: "1" } }, { ...olds, keepers: { a: "2" } })).toEqual({ changes: true, replaces: ["keepers"] });
  });

  it("rejects a short length or a poor alphabet", async () => {
    expect((await p.check({} as never, { length: 4, alphabet: ALPHANUMERIC } as never)).failures?.[0].property).toBe("length");
    expect((await p.check({} as never, { length: 32, alphabet: "ab" } as never)).failures?.[0].property).toBe("alphabet");
  });

  it("serializes without a secret and works after the round trip", async () => {
    const { provider, containsSecrets } = await roundTripProvider(p);
    expect(containsSecrets).toBe(false);
    expect((await provider.create({ length: 40, alphabet: ALPHANUMERIC })).outs!.result).toHaveLength(40);
  });
});
