// The registry model (data/quay/bootstrap-model.json): one zod schema is the single source of truth;
// the committed JSON Schema is generated from it (scripts/generate-schemas.ts) so editors validate the file.
import { z } from "zod";
import { QUAY_REPOSITORY_PATTERN, quayNameSetting } from "../providers/quay/names";
import { ConfigError, ConfigIssue, issuesFromZod } from "./errors";
import { parseJsonText, readTextFile } from "./text-file";

// Organization, user, robot and team names: quayNameSetting (providers/quay/names.ts), the rule the
// QuayHost settings use too.

const robotRef = z
  .string()
  .regex(/^[a-z0-9]+(?:[._-][a-z0-9]+)*\+[a-z0-9]+(?:[._-][a-z0-9]+)*$/, "must be a robot name <organization>+<shortname>")
  .describe("Robot full name: <organization>+<shortname>");
const repositoryRef = z
  .string()
  .regex(/^[a-z0-9]+(?:[._-][a-z0-9]+)*\/.+$/, "must be <organization>/<repository>")
  .describe("Repository full name: <organization>/<repository> (nested paths allowed)");
const role = z.enum(["read", "write", "admin"]).describe("Repository role");

export const organizationSchema = z
  .object({
    name: quayNameSetting("organization name").describe("Organization (namespace) name"),
    purpose: z.string().min(1).describe("What the organization holds"),
    retention: z.string().min(1).describe("The retention rule people must follow for its content"),
    mirror: z.boolean().default(false).describe("An oc-mirror target: private only, no admin for its robots"),
    email: z.string().email().optional().describe("Contact email (only needed when Quay's FEATURE_MAILING is on)"),
  })
  .strict();

export const repositorySchema = z
  .object({
    organization: quayNameSetting("organization name"),
    name: z
      .string()
      .max(255, { error: (issue) => `repository name is ${String(issue.input).length} characters long; Quay allows at most 255 (util/names.py) — fix: shorten the name or its nesting`, abort: true })
      .regex(new RegExp(QUAY_REPOSITORY_PATTERN), "must be lowercase path segments separated by '/' (Quay's extended repository names)")
      .describe("Repository name; '/' nests"),
    visibility: z.enum(["private", "public"]).default("private"),
    description: z.string().default(""),
  })
  .strict();

export const robotSchema = z
  .object({
    organization: quayNameSetting("organization name"),
    name: quayNameSetting("robot short name").describe("Short name; the robot's username is <organization>+<name>"),
    description: z.string().max(255).default(""),
    mirror: z.boolean().default(false).describe("oc-mirror's push robot for its organization"),
    rotateToken: z
      .string()
      .min(1)
      .optional()
      .describe("Any value; changing it regenerates the robot's token in place on the next up (e.g. the rotation date)"),
  })
  .strict();

export const teamSchema = z
  .object({
    organization: quayNameSetting("organization name"),
    name: quayNameSetting("team name"),
    role: z.enum(["member", "creator", "admin"]),
    description: z.string().default(""),
    members: z.array(z.string()).default([]).describe("Robot full names (<org>+<name>) or usernames"),
  })
  .strict();

const grantee = {
  robot: robotRef.optional(),
  user: quayNameSetting("username").optional(),
  team: quayNameSetting("team name").optional(),
};

export const repositoryPermissionSchema = z
  .object({ repository: repositoryRef, ...grantee, role })
  .strict()
  .describe("A role on one repository for exactly one of robot, user or team");

export const namespacePermissionSchema = z
  .object({ organization: quayNameSetting("organization name"), ...grantee, role })
  .strict()
  .describe("A role on every repository of an organization, now and later (default permission + grant)");

export const clusterPullUserSchema = z
  .object({
    username: quayNameSetting("username").default("ocp_cluster_pull"),
    email: z.string().email().optional(),
    namespaces: z.array(quayNameSetting("organization name")).min(1).describe("Organizations whose every repository the cluster pulls from"),
  })
  .strict();

export const registryModelSchema = z
  .object({
    $schema: z.string().optional(),
    organizations: z.array(organizationSchema).min(1, "list at least 1 organization"),
    repositories: z.array(repositorySchema).default([]),
    robots: z.array(robotSchema).default([]),
    teams: z.array(teamSchema).default([]),
    repositoryPermissions: z.array(repositoryPermissionSchema).default([]),
    namespacePermissions: z.array(namespacePermissionSchema).default([]),
    clusterPullUser: clusterPullUserSchema.optional(),
  })
  .strict();

/** The parsed model file. (The component that declares it in Quay is the class RegistryModel in components/registry-model.ts.) */
export type RegistryModelSpec = z.infer<typeof registryModelSchema>;
export type ModelOrganization = z.infer<typeof organizationSchema>;
export type ModelRepository = z.infer<typeof repositorySchema>;
export type ModelRobot = z.infer<typeof robotSchema>;
export type ModelTeam = z.infer<typeof teamSchema>;
export type ModelPermission = z.infer<typeof repositoryPermissionSchema>;
export type ModelNamespacePermission = z.infer<typeof namespacePermissionSchema>;

/** `organization+short`, the robot's Quay username (splitRobotName in providers/quay/names.ts is the inverse). */
export const joinRobotName = (r: { organization: string; name: string }) => `${r.organization}+${r.name}`;
export const repositoryFullName = (r: { organization: string; name: string }) => `${r.organization}/${r.name}`;

/** Which grantee a permission names (exactly one must be set; cross-check reports otherwise). */
export function granteeOf(p: { robot?: string; user?: string; team?: string }): { kind: "robot" | "user" | "team"; name: string } | undefined {
  const set = (["robot", "user", "team"] as const).filter((k) => p[k] !== undefined);
  return set.length === 1 ? { kind: set[0], name: p[set[0]] as string } : undefined;
}

/**
 * The checks a schema cannot express: references, duplicates and the access rules the seeds warn about.
 * Returns every problem at once, each with its JSON path and the fix.
 */
export function crossCheckModel(model: RegistryModelSpec): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const add = (path: (string | number)[], message: string, fix: string) => issues.push({ path, message, fix });

  const orgs = new Map(model.organizations.map((o) => [o.name, o]));
  const robots = new Map(model.robots.map((r) => [joinRobotName(r), r]));
  const repos = new Set(model.repositories.map(repositoryFullName));
  const teams = new Set(model.teams.map((t) => `${t.organization}/${t.name}`));
  const mirrorRobots = new Set(model.robots.filter((r) => r.mirror).map(joinRobotName));
  const knownUsers = new Set(model.clusterPullUser ? [model.clusterPullUser.username] : []);

  const duplicates = <T>(items: T[], key: (t: T) => string, section: string, what: string) => {
    const seen = new Map<string, number>();
    items.forEach((item, i) => {
      const k = key(item);
      if (seen.has(k)) add([section, i], `duplicate ${what} "${k}" (first at ${section}[${seen.get(k)}])`, `remove one of the two entries or rename it`);
      else seen.set(k, i);
    });
  };
  duplicates(model.organizations, (o) => o.name, "organizations", "organization");
  duplicates(model.repositories, repositoryFullName, "repositories", "repository");
  duplicates(model.robots, joinRobotName, "robots", "robot");
  duplicates(model.teams, (t) => `${t.organization}/${t.name}`, "teams", "team");

  const needOrg = (path: (string | number)[], org: string) => {
    if (!orgs.has(org)) add(path, `unknown organization "${org}"`, `add it to "organizations" or use one of: ${[...orgs.keys()].join(", ")}`);
  };

  model.repositories.forEach((r, i) => {
    needOrg(["repositories", i, "organization"], r.organization);
    if (orgs.get(r.organization)?.mirror && r.visibility === "public") {
      add(["repositories", i, "visibility"], `repository "${repositoryFullName(r)}" is public in mirror organization "${r.organization}"`, `set "visibility": "private"; mirror content is private`);
    }
  });
  model.robots.forEach((r, i) => {
    needOrg(["robots", i, "organization"], r.organization);
    // Quay stores a robot as the user <organization>+<shortname>, a name of at most 255 characters.
    const full = joinRobotName(r);
    if (full.length > 255) add(["robots", i, "name"], `robot "${r.organization}+…" is ${full.length} characters long as <organization>+<name>; Quay allows at most 255 for the robot's username`, `shorten the robot's name (or the organization's)`);
    const org = orgs.get(r.organization);
    if (r.mirror && org && !org.mirror) {
      add(["robots", i, "mirror"], `mirror robot "${full}" is in organization "${r.organization}", which is not a mirror namespace`, `set "mirror": true on organization "${r.organization}" if oc-mirror pushes there, or remove "mirror" from the robot`);
    }
  });

  model.teams.forEach((t, i) => {
    needOrg(["teams", i, "organization"], t.organization);
    if (t.role === "admin") {
      const mirrorMembers = t.members.filter((m) => mirrorRobots.has(m));
      if (mirrorMembers.length || orgs.get(t.organization)?.mirror) {
        add(["teams", i, "role"], `team "${t.name}" has role admin${mirrorMembers.length ? ` and holds mirror robot ${mirrorMembers.join(", ")}` : ` in mirror organization "${t.organization}"`}`, `use role "creator": it lets oc-mirror create repositories without administering the organization`);
      }
    }
    t.members.forEach((m, j) => {
      const path = ["teams", i, "members", j];
      if (m.includes("+")) {
        if (!robots.has(m)) add(path, `team member "${m}" is not a robot of the model`, `add the robot to "robots" or remove the member`);
        else if (m.split("+")[0] !== t.organization) add(path, `robot "${m}" belongs to another organization than team "${t.organization}/${t.name}"`, `use a robot of "${t.organization}"`);
      } else if (!knownUsers.has(m)) {
        add(path, `team member "${m}" is not a user the model knows`, `use a robot full name (<org>+<name>) or declare the user`);
      }
    });
  });

  const checkGrantee = (path: (string | number)[], p: { robot?: string; user?: string; team?: string; role: string }, org: string, scope: string) => {
    const g = granteeOf(p);
    if (!g) {
      add(path, `${scope} must name exactly one of "robot", "user" or "team"`, `keep one of the three keys`);
      return;
    }
    if (g.kind === "robot") {
      if (!robots.has(g.name)) add([...path, "robot"], `unknown robot "${g.name}"`, `add it to "robots" or use one of: ${[...robots.keys()].join(", ")}`);
      else if (g.name.split("+")[0] !== org) add([...path, "robot"], `robot "${g.name}" belongs to another organization than "${org}"`, `robots reach only their own organization; use a robot of "${org}" or a user`);
      if (mirrorRobots.has(g.name) && p.role === "admin") add([...path, "role"], `mirror robot "${g.name}" is given admin`, `use "write": oc-mirror needs to push, never to administer`);
    } else if (g.kind === "team") {
      if (!teams.has(`${org}/${g.name}`)) add([...path, "team"], `unknown team "${g.name}" in "${org}"`, `add it to "teams"`);
    } else if (!knownUsers.has(g.name)) {
      add([...path, "user"], `unknown user "${g.name}"`, `declare it (e.g. as "clusterPullUser") or use a robot`);
    }
  };

  model.repositoryPermissions.forEach((p, i) => {
    const org = p.repository.split("/")[0];
    if (!repos.has(p.repository)) add(["repositoryPermissions", i, "repository"], `unknown repository "${p.repository}"`, `add it to "repositories" or fix the name`);
    checkGrantee(["repositoryPermissions", i], p, org, "a repository permission");
  });
  model.namespacePermissions.forEach((p, i) => {
    needOrg(["namespacePermissions", i, "organization"], p.organization);
    checkGrantee(["namespacePermissions", i], p, p.organization, "a namespace permission");
  });

  // One grant per grantee and scope: two entries (the same or different roles) leave the result to the order
  // in which Quay applies them.
  const grants = <P extends { role: string; robot?: string; user?: string; team?: string }>(items: P[], section: string, scopeOf: (p: P) => string, what: string) => {
    const seen = new Map<string, { i: number; role: string }>();
    items.forEach((p, i) => {
      const g = granteeOf(p);
      if (!g) return;
      const key = `${scopeOf(p)} ${g.kind} ${g.name}`;
      const first = seen.get(key);
      if (!first) {
        seen.set(key, { i, role: p.role });
        return;
      }
      add(
        [section, i],
        first.role === p.role
          ? `${g.kind} "${g.name}" is granted "${p.role}" on ${what} "${scopeOf(p)}" twice (first at ${section}[${first.i}])`
          : `${g.kind} "${g.name}" gets two different roles on ${what} "${scopeOf(p)}": "${first.role}" at ${section}[${first.i}] and "${p.role}" here`,
        `keep one entry with the role it needs`,
      );
    });
  };
  grants(model.namespacePermissions, "namespacePermissions", (p) => p.organization, "organization");
  grants(model.repositoryPermissions, "repositoryPermissions", (p) => p.repository, "repository");

  if (model.clusterPullUser) {
    model.clusterPullUser.namespaces.forEach((ns, i) => {
      needOrg(["clusterPullUser", "namespaces", i], ns);
      const first = model.clusterPullUser!.namespaces.indexOf(ns);
      if (first < i) add(["clusterPullUser", "namespaces", i], `namespace "${ns}" is listed twice (first at namespaces[${first}])`, `remove one of the two`);
    });
    if (robots.has(model.clusterPullUser.username) || orgs.has(model.clusterPullUser.username)) {
      add(["clusterPullUser", "username"], `"${model.clusterPullUser.username}" is already an organization or robot name`, `pick another username`);
    }
  }
  return issues;
}

/** Parses and cross-checks a model; throws one ConfigError listing every problem with file and JSON path. */
export function parseRegistryModel(raw: unknown, file: string): RegistryModelSpec {
  const parsed = registryModelSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(file, issuesFromZod(parsed.error));
  const issues = crossCheckModel(parsed.data);
  if (issues.length) throw new ConfigError(file, issues);
  return parsed.data;
}

export function loadRegistryModel(file: string): RegistryModelSpec {
  const text = readTextFile(file, "model file", "check the path in the stack config (quay-mirror:modelFile)");
  return parseRegistryModel(parseJsonText(text, file, "model file"), file);
}
