// The frame of an engine suite against the emulator: the toolchain checked, one emulator (the lab's Quay
// config) and a scratch directory for the whole suite, both removed after it. Tests read `suite.quay` and
// `suite.dir`, which exist from the suite's first test on.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { QuayEmulatorOptions } from "../emulator";
import { repoRoot, toolchain } from "./engine";
import { QuayFixture, startQuay } from "./quay";

export interface EngineSuite {
  readonly quay: QuayFixture;
  readonly dir: string;
}

export function engineSuiteOnEmulator(opts: { tempPrefix?: string; quay?: QuayEmulatorOptions } = {}): EngineSuite {
  const suite = {} as { quay: QuayFixture; dir: string };
  beforeAll(async () => {
    toolchain();
    suite.quay = await startQuay(opts.quay);
    suite.dir = fs.mkdtempSync(path.join(os.tmpdir(), opts.tempPrefix ?? "qm-engine-"));
  });
  afterAll(async () => {
    await suite.quay?.close();
    if (suite.dir) fs.rmSync(suite.dir, { recursive: true, force: true });
  });
  return suite;
}

/** The lab program in existing-registry mode against an emulator, with the lab's model file, plus `extra`. */
export function existingLabConfig(quay: QuayFixture, registryHostname: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    "quay-mirror:mode": "existing",
    "quay-mirror:apiUrl": quay.emulator.url,
    "quay-mirror:registryHostname": registryHostname,
    "quay-mirror:modelFile": path.join(repoRoot, "data/quay/bootstrap-model.json"),
    ...extra,
  };
}
