import * as fs from "fs";
import * as path from "path";
import { modelJsonSchema } from "../../config/json-schema";
import { loadRegistryModel, joinRobotName } from "../../config/model";

const modelFile = path.join(__dirname, "../../data/quay/bootstrap-model.json");

describe("the lab's registry model", () => {
  const model = loadRegistryModel(modelFile);

  it("is exactly the lab's: 5 organisations, 8 private repositories, 5 robots, 2 mirror-creators teams", () => {
    expect(model.organizations.map((o) => o.name)).toEqual(["openshift-release", "openshift-operators", "platform", "golden-images", "tenants"]);
    expect(model.organizations.every((o) => o.purpose && o.retention)).toBe(true);
    expect(model.repositories.map((r) => `${r.organization}/${r.name}`).sort()).toEqual(
      [
        "openshift-release/release-images",
        "openshift-release/openshift/release-images",
        "openshift-release/release-metadata",
        "openshift-operators/redhat/redhat-operator-index",
        "openshift-operators/redhat/certified-operator-index",
        "platform/ci-tools",
        "platform/smoke",
        "golden-images/ubi9",
      ].sort(),
    );
    expect(model.repositories.every((r) => r.visibility === "private")).toBe(true);
    expect(model.robots.map(joinRobotName)).toEqual([
      "openshift-release+ocp_mirror",
      "openshift-operators+ocp_mirror",
      "platform+ci_push",
      "platform+read_only",
      "golden-images+read_only",
    ]);
    expect(model.teams.map((t) => [t.organization, t.name, t.role, t.members])).toEqual([
      ["openshift-release", "mirror-creators", "creator", ["openshift-release+ocp_mirror"]],
      ["openshift-operators", "mirror-creators", "creator", ["openshift-operators+ocp_mirror"]],
    ]);
    expect(model.clusterPullUser).toEqual({ username: "ocp_cluster_pull", namespaces: ["openshift-release", "openshift-operators"] });
  });

  it("gives mirror robots write (never admin) through namespace permissions", () => {
    const grants = model.namespacePermissions.map((p) => `${p.organization}:${p.robot}:${p.role}`);
    expect(grants).toEqual([
      "openshift-release:openshift-release+ocp_mirror:write",
      "openshift-operators:openshift-operators+ocp_mirror:write",
      "platform:platform+ci_push:write",
      "platform:platform+read_only:read",
      "golden-images:golden-images+read_only:read",
    ]);
  });

  it("references the committed JSON Schema, which is what the zod schema generates", () => {
    const raw = JSON.parse(fs.readFileSync(modelFile, "utf8"));
    expect(raw.$schema).toBe("./bootstrap-model.schema.json");
    const committed = JSON.parse(fs.readFileSync(path.join(path.dirname(modelFile), "bootstrap-model.schema.json"), "utf8"));
    expect(committed).toEqual(JSON.parse(JSON.stringify(modelJsonSchema())));
  });
});
