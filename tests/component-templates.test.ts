// components/templates.ts: every step template of every component reads with its includes expanded, and a
// shared fragment is carried whole by each template that includes it.
import * as fs from "fs";
import * as path from "path";
import { readComponentTemplate } from "../components/templates";
import { BACKUP_TEMPLATES } from "../components/quay-backups/render";
import { LB_STEP_TEMPLATES } from "../components/load-balancer/render";
import { STEP_TEMPLATES } from "../components/quay-host/render";

const fragment = (file: string) => fs.readFileSync(path.join(__dirname, "../components/templates-lib", file), "utf8").trimEnd();
const all: Array<[string, readonly string[]]> = [
  ["quay-host", STEP_TEMPLATES],
  ["load-balancer", LB_STEP_TEMPLATES],
  ["quay-backups", BACKUP_TEMPLATES],
];

test.each(all)("%s: every template reads with no include line left", (component, names) => {
  for (const name of names) {
    const text = readComponentTemplate(component, name);
    expect({ name, includes: text.match(/^# @include .*$/gm) ?? [] }).toEqual({ name, includes: [] });
    expect(text.startsWith("#!/usr/bin/env bash\n")).toBe(true);
  }
});

test("the firewall and packages steps of QuayHost and LoadBalancer carry the shared fragments whole", () => {
  for (const component of ["quay-host", "load-balancer"]) {
    expect(readComponentTemplate(component, "firewall")).toContain(fragment("ufw-converge.sh"));
    expect(readComponentTemplate(component, "packages")).toContain(fragment("apt-ensure-packages.sh"));
  }
});

test("a template that does not exist is an error naming it", () => {
  expect(() => readComponentTemplate("quay-host", "no-such-step")).toThrow(/no-such-step\.sh/);
});
