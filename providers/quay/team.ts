// Team: an organization team with an org-wide role and an exact set of members (robots and users).
//
// Quay facts this provider is built on (github.com/quay/quay endpoints/api/team.py):
// - team PUT is an upsert (200, `new_team` true/false), so create looks first to honour `adopt`;
// - there is no GET for one team: role and description come from `GET /organization/{org}` (`teams`),
//   members from `…/team/{team}/members` (404 when the team is missing);
// - member PUT is not idempotent (400 "already a member" the second time; with invites on, a repeat makes
//   another invite), member DELETE of a non-member is 400 "does not belong", team DELETE of a missing team
//   is 400 "is not a team in org".
import * as pulumi from "@pulumi/pulumi";
import { lazyProvider } from "../lazy";
import { QuayProvider } from "./base";
import { z } from "zod";
import { apiPath } from "./client";
import {
  CommonProps,
  QuayConnectionArgs,
  alreadyExists,
  changedKeys,
  checkWith,
  clientFor,
  commonShape,
  diffProps,
  driftedInputs,
  isGone,
  isUnknown,
  organizationGone,
  partialCreate,
  UNKNOWN,
  writeOnce,
} from "./common";
import { QUAY_NAME_PATTERN, namespaceName, splitRobotName, teamName, teamRole } from "./names";

export type TeamRole = "member" | "creator" | "admin";

export interface TeamArgs {
  connection: pulumi.Input<QuayConnectionArgs>;
  /** Organization that owns the team. */
  organization: pulumi.Input<string>;
  /** Team name (Quay's name rules: lowercase letters, digits, `._-` separators, 2–255 chars). */
  name: pulumi.Input<string>;
  /** Org-wide role: `member`, `creator` (may create repositories) or `admin`. */
  role: pulumi.Input<TeamRole>;
  /** Markdown description. Default "". */
  description?: pulumi.Input<string>;
  /**
   * The exact member set: robot full names (`<org>+<short>`, robots of this organization only) and
   * usernames. Members Quay has that are not listed are removed. Default: no members.
   */
  members?: pulumi.Input<pulumi.Input<string>[]>;
  /** Take over a team that already exists (its role, description and members are converged) instead of failing. */
  adopt?: pulumi.Input<boolean>;
}

/** How a member is stored: its name → `robot` or `user`. */
export type TeamMemberMap = Record<string, "robot" | "user">;

export interface TeamProps extends CommonProps {
  organization: string;
  name: string;
  role: TeamRole;
  description: string;
  /**
   * The member set, stored as a map name → kind (`{"acme+ci": "robot", "alice": "user"}`), not as a list: the
   * engine shows a dynamic resource's change as a diff of its old and new inputs and diffs a list by position,
   * so one member entering a sorted list showed as every later member changing. A map's diff names each
   * member that enters (`+ acme+ci: "robot"`) or leaves (`- alice: "user"`). State written before this holds
   * a list: every method takes both.
   */
  members: TeamMemberMap | string[];
}

interface MemberView {
  name?: string;
  kind?: string;
  is_robot?: boolean;
  invited?: boolean;
}

interface TeamMembers {
  /** Real members (robots and users). */
  members: string[];
  /** Users with a pending invite (FEATURE_MAILING + FEATURE_REQUIRE_TEAM_INVITE): not members yet. */
  pending: string[];
}

/**
 * What to do to turn the `current` member set into the `desired` one: who to add and who to remove.
 * Pure; duplicates are ignored and both lists come out sorted.
 */
export function planTeamMembers(current: readonly string[], desired: readonly string[]): { add: string[]; remove: string[] } {
  const have = new Set(current);
  const want = new Set(desired);
  return {
    add: [...want].filter((m) => !have.has(m)).sort(),
    remove: [...have].filter((m) => !want.has(m)).sort(),
  };
}

/**
 * Sorted and without duplicates, so member lists compare as sets; a stored map gives its names (unknown
 * values are left alone). Pure.
 */
export function memberSet(members: unknown): unknown {
  if (isUnknown(members)) return members;
  if (members && typeof members === "object" && !Array.isArray(members)) return Object.keys(members).sort();
  if (!Array.isArray(members)) return members;
  return [...new Set(members as string[])].sort();
}

/** The member names of a stored list or map, sorted. Pure. */
export function memberList(members: TeamProps["members"] | undefined): string[] {
  return (memberSet(members ?? []) as string[]) ?? [];
}

/** The stored form of a member list: name → `robot` (`<org>+<short>`) or `user`, keys sorted. Pure. */
export function memberMap(members: TeamProps["members"] | undefined): TeamMemberMap {
  return Object.fromEntries(memberList(members).map((m) => [m, splitRobotName(m) ? ("robot" as const) : ("user" as const)]));
}

// Quay's "it is not there" answers for teams and members.
const teamGone = () => [/is not a team in org/i];
const memberAlreadyIn = () => [/is already a member of team/i];
const memberNotIn = () => [/does not belong to team/i];


/** A 400 whose message matches (Quay's model exceptions: "already a member" is no 404). */
function isQuay400(e: unknown, messages: RegExp[]): boolean {
  const err = e as { name?: string; status?: number; quayMessage?: string };
  return err?.name === "QuayApiError" && err.status === 400 && messages.some((re) => re.test(err.quayMessage ?? ""));
}

export class TeamProvider extends QuayProvider implements pulumi.dynamic.ResourceProvider<TeamProps, TeamProps> {
  static readonly instance = new TeamProvider();

  async check(_olds: TeamProps, news: TeamProps): Promise<pulumi.dynamic.CheckResult<TeamProps>> {
    const inner = QUAY_NAME_PATTERN.slice(1, -1);
    const memberPattern = new RegExp(`^${inner}(\\+${inner})?$`);
    const schema = z
      .object({
        ...commonShape(),
        organization: namespaceName(),
        name: teamName(),
        role: teamRole(),
        description: z.string().default(""),
        members: z
          .array(
            z
              .string()
              .max(255, "a member name must be at most 255 characters")
              .regex(memberPattern, "must be a username or a robot name of the form <organization>+<shortname>"),
          )
          .default([]),
      })
      .superRefine((value, ctx) => {
        if (isUnknown(value.organization)) return;
        value.members.forEach((member, i) => {
          const robot = splitRobotName(member);
          if (robot && robot.namespace !== value.organization) {
            ctx.addIssue({
              code: "custom",
              path: ["members", i],
              message: `robot ${member} belongs to namespace ${robot.namespace}; a team of organization ${value.organization} can only hold its own robots`,
            });
          }
        });
      })
      // A member not known yet (a robot created in the same up) makes the whole set unknown in the plan.
      .transform((value) => ({ ...value, members: isUnknown(value.members) ? (UNKNOWN as unknown as TeamMemberMap) : memberMap(value.members) }));
    // A stored map (state of this version) is checked as its names.
    const given = news.members && typeof news.members === "object" && !Array.isArray(news.members) ? { ...news, members: memberList(news.members) } : news;
    return checkWith(schema, given, "quay:Team");
  }

  async diff(_id: string, olds: TeamProps, news: TeamProps): Promise<pulumi.dynamic.DiffResult> {
    return diffProps({ ...olds, members: memberSet(olds.members) }, { ...news, members: memberSet(news.members) }, {
      replaceOn: ["organization", "name"],
      updateOn: ["role", "description", "members"],
      defaults: { description: "", members: [] },
    });
  }

  async create(inputs: TeamProps): Promise<pulumi.dynamic.CreateResult<TeamProps>> {
    const client = clientFor(inputs.connection, this.overrideToken);
    const id = `${inputs.organization}/${inputs.name}`;
    const desired = memberList(inputs.members);

    // Team PUT would silently take over (and change) a team someone else made: look first.
    const existing = await this.listMembers(client, inputs.organization, inputs.name);
    if (existing && !inputs.adopt) throw alreadyExists("team", id);

    try {
      await client.put(apiPath`/organization/${inputs.organization}/team/${inputs.name}`, { role: inputs.role, description: inputs.description ?? "" }, { idempotent: true });
    } catch (e) {
      // The upsert may have been applied although no answer came back: record what exists, without a role
      // so that the next `up` sends role and description again. (No `undefined` values: the engine gets
      // these properties as a protobuf Struct. `__provider` comes along with the inputs.)
      const { role: _unsure, ...withoutRole } = inputs;
      if (!existing && (await this.listMembers(client, inputs.organization, inputs.name))) {
        throw partialCreate(id, { ...withoutRole, members: {} }, e);
      }
      if (existing) throw partialCreate(id, { ...withoutRole, members: memberMap([...existing.members, ...existing.pending]) }, e);
      throw e;
    }

    const current = existing ? [...existing.members, ...existing.pending] : [];
    const confirmed = new Set(current);
    try {
      await this.applyMembers(client, inputs.organization, inputs.name, planTeamMembers(current, desired), confirmed);
    } catch (e) {
      // The team exists in Quay: the engine records it and the next `up` converges its members.
      throw partialCreate(id, { ...inputs, members: memberMap([...confirmed]) }, e);
    }
    return { id, outs: { ...inputs, description: inputs.description ?? "", members: memberMap(desired) } };
  }

  async read(id: string, props?: TeamProps): Promise<pulumi.dynamic.ReadResult<TeamProps>> {
    if (!props) throw new Error("quay:Team cannot be imported; use `adopt: true` instead");
    const client = clientFor(props.connection, this.overrideToken);
    let teamView: { role?: TeamRole; description?: string | null } | undefined;
    try {
      const { body } = await client.get<{ teams?: Record<string, { role?: TeamRole; description?: string | null }> }>(apiPath`/organization/${props.organization}`);
      if (body.teams) {
        teamView = body.teams[props.name];
        if (!teamView) return {};
      }
    } catch (e) {
      if (isGone(e)) return {};
      throw e;
    }
    const live = await this.listMembers(client, props.organization, props.name);
    if (!live) return {};
    const found: TeamProps = {
      ...props,
      // Without org admin Quay does not list teams: keep what was stored.
      role: teamView?.role ?? props.role,
      description: teamView ? (teamView.description ?? "") : (props.description ?? ""),
      // Invited users are not members until they accept.
      members: memberMap(live.members),
    };
    const drift = driftedInputs({ ...props, members: memberMap(props.members) }, found);
    // No drift: keep what was stored, in the form it was stored (older state holds members as a list), so a
    // refresh of an unchanged team shows no change.
    return { id, props: drift ? found : props, inputs: drift };
  }

  async update(id: string, olds: TeamProps, news: TeamProps): Promise<pulumi.dynamic.UpdateResult<TeamProps>> {
    const changed = changedKeys({ ...olds, members: memberSet(olds.members) }, { ...news, members: memberSet(news.members) }, ["role", "description", "members"], {
      description: "",
      members: [],
    });
    if (changed.length === 0) return { outs: { ...news } };
    const client = clientFor(news.connection, this.overrideToken);
    let syncMembers = changed.includes("members");
    if (changed.includes("role") || changed.includes("description")) {
      const { body } = await client.put<{ new_team?: boolean }>(
        apiPath`/organization/${news.organization}/team/${news.name}`,
        { role: news.role, description: news.description ?? "" },
        { idempotent: true },
      );
      // The upsert re-created a team deleted behind Pulumi's back: it has no members yet.
      if (body?.new_team) syncMembers = true;
    }
    if (syncMembers) {
      const live = await this.listMembers(client, news.organization, news.name);
      if (!live) throw new Error(`quay:Team ${id}: the team no longer exists in Quay; run \`pulumi refresh\` so the next \`up\` re-creates it`);
      // Pending invites count as present: inviting again would only make another invite.
      const current = [...live.members, ...live.pending];
      await this.applyMembers(client, news.organization, news.name, planTeamMembers(current, memberList(news.members)), new Set(current));
    }
    return { outs: { ...news } };
  }

  async delete(_id: string, props: TeamProps): Promise<void> {
    const client = clientFor(props.connection, this.overrideToken);
    try {
      await client.delete(apiPath`/organization/${props.organization}/team/${props.name}`, { idempotent: true });
    } catch (e) {
      if (isGone(e, teamGone())) return;
      if (await organizationGone(client, props.organization, e)) return;
      throw e;
    }
  }

  /** Members and pending invites, or undefined when the team (or its organization) does not exist. */
  private async listMembers(client: ReturnType<typeof clientFor>, organization: string, team: string): Promise<TeamMembers | undefined> {
    try {
      const { body } = await client.get<{ members?: MemberView[] }>(apiPath`/organization/${organization}/team/${team}/members`, {
        query: { includePending: "true" },
      });
      const named = (body.members ?? []).filter((m): m is MemberView & { name: string } => typeof m.name === "string");
      return {
        members: named.filter((m) => !m.invited).map((m) => m.name),
        pending: named.filter((m) => m.invited).map((m) => m.name),
      };
    } catch (e) {
      if (isGone(e)) return undefined;
      throw e;
    }
  }

  /** Adds, then removes; `confirmed` tracks the member set as each call succeeds (for partial failures). */
  private async applyMembers(
    client: ReturnType<typeof clientFor>,
    organization: string,
    team: string,
    plan: { add: string[]; remove: string[] },
    confirmed: Set<string>,
  ): Promise<void> {
    for (const member of plan.add) {
      const path = apiPath`/organization/${organization}/team/${team}/members/${member}`;
      const outcome = await writeOnce(
        async () => {
          try {
            const { body } = await client.put<MemberView>(path);
            return body?.invited ? ("invited" as const) : ("added" as const);
          } catch (e) {
            // Member PUT is not idempotent: the second time Quay says "already a member".
            if (isQuay400(e, memberAlreadyIn())) return "added" as const;
            throw e;
          }
        },
        // After an unclear outcome, look before adding again (a repeat would make a second invite).
        async () => {
          const live = await this.listMembers(client, organization, team);
          if (live?.members.includes(member)) return "added" as const;
          if (live?.pending.includes(member)) return "invited" as const;
          return undefined;
        },
      );
      if (outcome === "invited") {
        void pulumi.log.warn(
          `quay:Team ${organization}/${team}: Quay invited ${member} instead of adding them (FEATURE_MAILING with team invites on); ` +
            `they become a member once they accept, until then the team shows them as missing`,
        );
      }
      confirmed.add(member);
    }
    for (const member of plan.remove) {
      try {
        await client.delete(apiPath`/organization/${organization}/team/${team}/members/${member}`, { idempotent: true });
      } catch (e) {
        // Not a member (400 "does not belong"), or an unknown user (404): already done.
        if (!isGone(e, memberNotIn())) throw e;
      }
      confirmed.delete(member);
    }
  }
}

// What each resource stores as its provider: a small shim that loads TeamProvider from the project (providers/lazy.ts).
const providerShim = lazyProvider("providers/quay/team", "TeamProvider");

/** A Quay team. Type token `pulumi-nodejs:dynamic/quay:Team`. */
export class Team extends pulumi.dynamic.Resource {
  declare readonly organization: pulumi.Output<string>;
  declare readonly name: pulumi.Output<string>;
  declare readonly role: pulumi.Output<TeamRole>;
  declare readonly description: pulumi.Output<string>;
  /** Name → `robot` or `user`. */
  declare readonly members: pulumi.Output<TeamMemberMap>;

  constructor(name: string, args: TeamArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerShim,
      name,
      {
        ...args,
        connection: pulumi.secret(args.connection),
        description: args.description,
        members: args.members,
        adopt: args.adopt,
      },
      opts,
      "quay",
      "Team",
    );
  }
}
