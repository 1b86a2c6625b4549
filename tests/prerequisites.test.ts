// A suite whose machine prerequisites are missing never turns a CI run green by skipping itself.
import { decideSuite } from "./support/prerequisites";

const missing = { prerequisites: { ok: false as const, reason: "test hosts need root" }, skipVariable: "QM_SKIP_HOST_E2E" };
const present = { prerequisites: { ok: true as const }, skipVariable: "QM_SKIP_HOST_E2E" };

describe("decideSuite", () => {
  test("runs when the prerequisites are present, in CI or not", () => {
    expect(decideSuite("s", present, { CI: "true" })).toEqual({ run: true });
    expect(decideSuite("s", present, {})).toEqual({ run: true });
  });

  test("under CI=true, missing prerequisites fail the suite, naming what is missing and how to skip on purpose", () => {
    const d = decideSuite("host suite", missing, { CI: "true" });
    expect(d).toMatchObject({ run: false, fail: true });
    expect(d.run === false && d.message).toMatch(/host suite: cannot run on this CI machine: test hosts need root\. .*QM_SKIP_HOST_E2E=1/);
  });

  test("an explicit QM_SKIP_HOST_E2E=1 skips, in CI too, whatever the prerequisites", () => {
    expect(decideSuite("s", missing, { CI: "true", QM_SKIP_HOST_E2E: "1" })).toMatchObject({ run: false, fail: false });
    expect(decideSuite("s", present, { QM_SKIP_HOST_E2E: "1" })).toMatchObject({ run: false, fail: false });
  });

  test("on a developer's machine (no CI), missing prerequisites skip with the reason", () => {
    const d = decideSuite("s", missing, {});
    expect(d).toMatchObject({ run: false, fail: false });
    expect(d.run === false && d.message).toMatch(/skipped: test hosts need root/);
  });

  test("only CI=true counts as CI (CI=false or unset does not fail)", () => {
    expect(decideSuite("s", missing, { CI: "false" })).toMatchObject({ fail: false });
  });
});
