// Suites that need something of the machine (root and systemd-nspawn for test hosts, sshd, …) declare it here
// instead of choosing `describe.skip` themselves, so that a CI run can never go green while quietly leaving a
// whole path untested:
//   - prerequisites met: the suite runs;
//   - missing, and the skip was asked for (QM_SKIP_HOST_E2E=1, or the suite's own variable): skipped, with a warning;
//   - missing under CI=true without that request: the suite FAILS with one test that names what is missing and the fix;
//   - missing on a developer's machine: skipped, with a warning naming what is missing.

export type Prerequisites = { ok: true } | { ok: false; reason: string };

export interface SuiteRequirement {
  /** What the suite needs, checked now (at module load). */
  prerequisites: Prerequisites;
  /** The environment variable that, set to "1", asks to skip the suite. */
  skipVariable: string;
}

export type SuiteDecision = { run: true } | { run: false; fail: boolean; message: string };

/** Pure: whether a suite runs, is skipped, or fails for want of its prerequisites. */
export function decideSuite(title: string, req: SuiteRequirement, env: NodeJS.ProcessEnv = process.env): SuiteDecision {
  if (env[req.skipVariable] === "1") {
    return { run: false, fail: false, message: `${title}: skipped as asked (${req.skipVariable}=1)` };
  }
  if (req.prerequisites.ok) return { run: true };
  const reason = req.prerequisites.reason;
  if (env.CI === "true") {
    return {
      run: false,
      fail: true,
      message: `${title}: cannot run on this CI machine: ${reason}. Fix the machine, or set ${req.skipVariable}=1 to skip this suite on purpose (the run then counts it as skipped).`,
    };
  }
  return { run: false, fail: false, message: `${title}: skipped: ${reason} (under CI=true this fails the run)` };
}

/** `describe` for a suite with prerequisites (see the top of this file). */
export function describeWithPrerequisites(title: string, req: SuiteRequirement, fn: () => void): void {
  const decision = decideSuite(title, req);
  if (decision.run) {
    describe(title, fn);
    return;
  }
  // eslint-disable-next-line no-console
  console.warn(decision.message);
  if (decision.fail) {
    describe(title, () => {
      test("its prerequisites are present", () => {
        throw new Error(decision.message);
      });
    });
  } else {
    describe.skip(title, fn);
  }
}
