// The policy rules' handling of values a preview does not know (policy/rules.ts), without the engine:
// resources shaped as @pulumi/policy hands them to validateStack, with its unknown-checking proxy and the
// engine's unknown sentinel. (tests/policy/policy.test.ts runs the pack through the real engine; today's
// providers make robot and user names known in a preview, so the derived path is proven here.)
import { PolicyResource, unknownCheckingProxy } from "@pulumi/policy";
import { DEFAULTS, TYPES, View, mirrorRepositoryPublic, mirrorRobotAdmin, clusterPullUserBeyondRead, settingsFrom, sshHostKeyPinned, teamGrants } from "../../policy/rules";

const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"; // the engine's unknown string, as the policy SDK sees it

function resource(type: string, name: string, props: Record<string, unknown>, propertyDependencies: Record<string, PolicyResource[]> = {}): PolicyResource {
  return {
    type,
    name,
    urn: `urn:pulumi:t::p::${type}::${name}`,
    props: unknownCheckingProxy(props),
    opts: {} as PolicyResource["opts"],
    dependencies: Object.values(propertyDependencies).flat(),
    propertyDependencies,
    isType: () => false,
    asType: () => undefined,
  };
}
const perResource = (r: PolicyResource) => new View(r.type, r.urn, r.props);
const inStack = (r: PolicyResource) => new View(r.type, r.urn, r.props, r.propertyDependencies);

const releaseRobot = resource(TYPES.robot, "release-mirror", { namespace: "openshift-release", name: "ocp_mirror" });
const pullUser = resource(TYPES.user, "pull", { username: "ocp_cluster_pull" });

describe("a value unknown in a preview", () => {
  const perm = resource(
    TYPES.repositoryPermission,
    "release-perm",
    { kind: "robot", name: UNKNOWN, role: "admin", namespace: "openshift-release", repository: "release-images" },
    { name: [releaseRobot] },
  );

  test("is undecided per resource, and decided (marked derived) in the stack check from the robot it comes from", () => {
    expect(mirrorRobotAdmin(perResource(perm), DEFAULTS)).toEqual([]);
    expect(mirrorRobotAdmin(inStack(perm), DEFAULTS)).toEqual([
      { derived: true, message: expect.stringContaining('mirror robot "openshift-release+ocp_mirror" is given role admin on repository "openshift-release/release-images": set role "write"') },
    ]);
  });

  test("a known value is decided per resource and not derived (so the stack check does not report it again)", () => {
    const known = resource(TYPES.defaultPermission, "d", { delegateKind: "robot", delegateName: "openshift-operators+ocp_mirror", role: "admin", organization: "openshift-operators" });
    expect(mirrorRobotAdmin(perResource(known), DEFAULTS).map((f) => f.derived)).toEqual([false]);
    expect(mirrorRobotAdmin(inStack(known), DEFAULTS).map((f) => f.derived)).toEqual([false]);
  });

  test("team members: unknown elements are replaced by the robots the members depend on", () => {
    const ci = resource(TYPES.robot, "ci", { namespace: "platform", name: "ci_push" });
    const team = resource(TYPES.team, "t", { organization: "platform", name: "ops", role: "admin", members: ["someone", UNKNOWN] }, { members: [releaseRobot, ci] });
    expect(mirrorRobotAdmin(perResource(team), DEFAULTS)).toEqual([]);
    const [f] = mirrorRobotAdmin(inStack(team), DEFAULTS);
    expect(f).toEqual({ derived: true, message: expect.stringContaining('team "platform/ops" has role admin and holds mirror robot "openshift-release+ocp_mirror"') });
  });

  test("team members stored as a map (name → kind, what the Team's check returns) are read as its names", () => {
    const team = resource(TYPES.team, "t", { organization: "openshift-release", name: "ops", role: "admin", members: { "openshift-release+ocp_mirror": "robot", alice: "user" } });
    expect(mirrorRobotAdmin(perResource(team), DEFAULTS)).toEqual([
      { derived: false, message: expect.stringContaining('team "openshift-release/ops" has role admin and holds mirror robot "openshift-release+ocp_mirror"') },
    ]);
    const unknownMembers = resource(TYPES.team, "u", { organization: "platform", name: "ops", role: "admin", members: UNKNOWN }, { members: [releaseRobot] });
    expect(mirrorRobotAdmin(inStack(unknownMembers), DEFAULTS)).toEqual([{ derived: true, message: expect.stringContaining('holds mirror robot "openshift-release+ocp_mirror"') }]);
  });

  test("the cluster-pull user's name from its User resource", () => {
    const grant = resource(TYPES.namespaceGrant, "g", { granteeKind: "user", grantee: UNKNOWN, namespaces: ["openshift-release"], role: "write" }, { grantee: [pullUser] });
    expect(clusterPullUserBeyondRead(perResource(grant), DEFAULTS)).toEqual([]);
    expect(clusterPullUserBeyondRead(inStack(grant), DEFAULTS)).toEqual([
      { derived: true, message: expect.stringContaining('cluster-pull user "ocp_cluster_pull" is granted write on whole namespaces: set role "read"') },
    ]);
  });

  test("stays undecided when the dependency does not know it either, or when several dependencies could be it", () => {
    const unnamedRobot = resource(TYPES.robot, "r", { namespace: UNKNOWN, name: "ocp_mirror" });
    const viaUnknown = resource(TYPES.repositoryPermission, "p", { kind: "robot", name: UNKNOWN, role: "admin", namespace: "openshift-release", repository: "x" }, { name: [unnamedRobot] });
    expect(mirrorRobotAdmin(inStack(viaUnknown), DEFAULTS)).toEqual([]);
    const ci = resource(TYPES.robot, "ci", { namespace: "platform", name: "ci_push" });
    const ambiguous = resource(TYPES.repositoryPermission, "q", { kind: "robot", name: UNKNOWN, role: "admin", namespace: "openshift-release", repository: "x" }, { name: [releaseRobot, ci] });
    expect(mirrorRobotAdmin(inStack(ambiguous), DEFAULTS)).toEqual([]);
  });

  test("an unknown deep inside a value (a RepositorySet map entry) leaves the check undecided instead of throwing", () => {
    const set = resource(TYPES.repositorySet, "s", { namespace: "openshift-release", repositories: { a: UNKNOWN, b: "private" } });
    expect(mirrorRepositoryPublic(inStack(set), DEFAULTS)).toEqual([]);
    const publicSet = resource(TYPES.repositorySet, "s", { namespace: "openshift-release", repositories: { a: "public", b: "private" } });
    expect(mirrorRepositoryPublic(inStack(publicSet), DEFAULTS).map((f) => f.message)).toEqual([expect.stringContaining("makes 1 repository public (a)")]);
  });

  test("team grants: a team holding a robot whose name a preview does not know yet", () => {
    const team = resource(TYPES.team, "pushers", { organization: "openshift-release", name: "pushers", role: "member", members: [UNKNOWN] }, { members: [releaseRobot] });
    const grant = resource(TYPES.repositoryPermission, "tp", { kind: "team", name: "pushers", role: "admin", namespace: "openshift-release", repository: "x" });
    expect(teamGrants([team, grant], DEFAULTS)).toEqual([
      { urn: grant.urn, rule: "mirror", message: expect.stringContaining('team "openshift-release/pushers" holds mirror robot "openshift-release+ocp_mirror" and is given admin on repository "openshift-release/x"') },
    ]);
  });
});

describe("settingsFrom", () => {
  test("fills defaults and takes what the config sets", () => {
    expect(settingsFrom({})).toEqual(DEFAULTS);
    expect(settingsFrom({ blobBucket: "blobs", mirrorNamespaces: ["m"] })).toEqual({ ...DEFAULTS, blobBucket: "blobs", mirrorNamespaces: ["m"] });
  });
  test("names the key and the fix for a value of the wrong shape", () => {
    expect(() => settingsFrom({ mirrorRobots: "a+b" })).toThrow(/policy config "mirrorRobots" must be an array of strings .*--policy-pack-config/);
    expect(() => settingsFrom({ clusterPullUser: "" })).toThrow(/policy config "clusterPullUser" must be a non-empty string/);
  });
});

describe("ssh-host-key-pinned", () => {
  const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHy3XWNwZOJqEOv/wzgpXthNqdbKAu5ksNZIhvWgdUc9";
  const conn = (extra: Record<string, unknown> = {}) => ({ host: "10.0.0.5", port: 22, user: "root", privateKey: "PEM", ...extra });
  const cmd = (connection: unknown, type = "command:remote:Command") => perResource(resource(type, "step", { connection, create: "true" }));

  test("a pinned key on the connection and on the proxy passes", () => {
    expect(sshHostKeyPinned(cmd(conn({ hostKey: KEY })), DEFAULTS)).toEqual([]);
    expect(sshHostKeyPinned(cmd(conn({ hostKey: KEY, proxy: { host: "b", hostKey: KEY } })), DEFAULTS)).toEqual([]);
  });

  test("any command:remote:* resource without the host's key is a violation that says how to pin it", () => {
    for (const type of ["command:remote:Command", "command:remote:CopyToRemote", "command:remote:CopyFile"]) {
      const [f] = sshHostKeyPinned(cmd(conn(), type), DEFAULTS);
      expect({ type, f }).toEqual({ type, f: { derived: false, message: expect.stringMatching(/^SSH connection to 10\.0\.0\.5:22 has no hostKey: .* — pin the host's key: .*ssh-keyscan -t ed25519 10\.0\.0\.5.*ssh-keygen -lf/) } });
    }
    expect(sshHostKeyPinned(cmd(conn({ hostKey: "  " })), DEFAULTS)).toHaveLength(1);
    expect(sshHostKeyPinned(perResource(resource("command:local:Command", "l", { create: "true" })), DEFAULTS)).toEqual([]);
    expect(sshHostKeyPinned(perResource(resource(TYPES.bucket, "b", { name: "x" })), DEFAULTS)).toEqual([]);
  });

  test("the proxy (bastion) too", () => {
    const [f] = sshHostKeyPinned(cmd(conn({ hostKey: KEY, proxy: { host: "bastion.lab", port: 2222 } })), DEFAULTS);
    expect(f!.message).toMatch(/^SSH proxy \(bastion\) bastion\.lab:2222 has no hostKey: .*ssh-keyscan -p 2222 -t ed25519 bastion\.lab/);
  });

  test("trust-on-first-use only when the policy config allows it", () => {
    const tofu = cmd(conn({ hostKey: "trust-on-first-use" }));
    expect(sshHostKeyPinned(tofu, DEFAULTS)[0]!.message).toMatch(/hostKey "trust-on-first-use".*allowTrustOnFirstUse/);
    expect(sshHostKeyPinned(tofu, settingsFrom({ allowTrustOnFirstUse: true }))).toEqual([]);
    expect(() => settingsFrom({ allowTrustOnFirstUse: "yes" })).toThrow(/policy config "allowTrustOnFirstUse" must be true or false/);
  });

  test("undecided while the key is unknown (a preview of a key recorded by trust-on-first-use)", () => {
    expect(sshHostKeyPinned(cmd(conn({ hostKey: UNKNOWN })), DEFAULTS)).toEqual([]);
    expect(sshHostKeyPinned(cmd(UNKNOWN), DEFAULTS)).toEqual([]);
  });
});
