// DefaultPermission: a Quay "prototype" — a role an organization gives a user, robot or team on every
// repository created in it from now on (optionally only on those created by one activating user).
//
// Quay facts (github.com/quay/quay endpoints/api/prototype.py):
// - there is no uniqueness check: identical POSTs create duplicates, so create lists first and looks
//   again after an ambiguous POST before posting again;
// - robots are delegates of kind "user"; there is no GET for one prototype (list and filter by id);
// - PUT `…/prototypes/{uuid}` changes the role; PUT and DELETE of a missing prototype are 404.
import * as pulumi from "@pulumi/pulumi";
import { lazyProvider } from "../lazy";
import { LOOKUP_ID_PREFIX } from "../pending-create";
import { QuayProvider } from "./base";
import { z } from "zod";
import { apiPath } from "./client";
import {
  CommonProps,
  QuayConnectionArgs,
  alreadyExists,
  checkWith,
  clientFor,
  commonShape,
  diffProps,
  driftedInputs,
  isGone,
  isUnknown,
  organizationGone,
  partialCreate,
  writeOnce,
} from "./common";
import { QUAY_NAME_PATTERN, namespaceName, repositoryRole, robotFullName, splitRobotName, teamName, userName } from "./names";

export type RepositoryRole = "read" | "write" | "admin";
export type DelegateKind = "user" | "robot" | "team";

export interface DefaultPermissionArgs {
  connection: pulumi.Input<QuayConnectionArgs>;
  /** Organization whose new repositories get the role. */
  organization: pulumi.Input<string>;
  /** Who gets the role: a `user`, a `robot` (of this organization) or a `team` (of this organization). */
  delegateKind: pulumi.Input<DelegateKind>;
  /** Username, robot full name (`<organization>+<short>`) or team name. */
  delegateName: pulumi.Input<string>;
  /** Only for repositories this user (or robot) creates. Default: whoever creates them. */
  activatingUser?: pulumi.Input<string>;
  /** `read`, `write` or `admin`. */
  role: pulumi.Input<RepositoryRole>;
  /** Take over a matching default permission that already exists (its role is converged) instead of failing. */
  adopt?: pulumi.Input<boolean>;
}

export interface DefaultPermissionProps extends CommonProps {
  organization: string;
  delegateKind: DelegateKind;
  delegateName: string;
  activatingUser?: string;
  role: RepositoryRole;
}

interface PrototypeView {
  id: string;
  role: RepositoryRole;
  activating_user?: { name?: string } | null;
  delegate?: { name?: string; kind?: string } | null;
}

/** True when a prototype from Quay's list is the one these props describe (same delegate and activating user). */
function matchesPrototype(proto: PrototypeView, p: DefaultPermissionProps): boolean {
  const kind = p.delegateKind === "team" ? "team" : "user";
  return (
    proto.delegate?.kind === kind &&
    proto.delegate?.name === p.delegateName &&
    (proto.activating_user?.name || undefined) === (p.activatingUser || undefined)
  );
}


function describe(p: DefaultPermissionProps): string {
  return `${p.organization}: ${p.delegateKind} ${p.delegateName}${p.activatingUser ? ` on repositories created by ${p.activatingUser}` : ""}`;
}

export class DefaultPermissionProvider extends QuayProvider implements pulumi.dynamic.ResourceProvider<DefaultPermissionProps, DefaultPermissionProps> {
  static readonly instance = new DefaultPermissionProvider();

  async check(_olds: DefaultPermissionProps, news: DefaultPermissionProps): Promise<pulumi.dynamic.CheckResult<DefaultPermissionProps>> {
    const inner = QUAY_NAME_PATTERN.slice(1, -1);
    const schema = z
      .object({
        ...commonShape(),
        organization: namespaceName(),
        delegateKind: z.enum(["user", "robot", "team"], { message: "delegateKind must be one of user, robot, team" }),
        delegateName: z.string().min(1, "delegateName must not be empty"),
        activatingUser: z
          .string()
          .regex(new RegExp(`^${inner}(\\+${inner})?$`), "activatingUser must be a username or a robot name of the form <namespace>+<shortname>")
          .optional(),
        role: repositoryRole(),
      })
      .superRefine((value, ctx) => {
        if (isUnknown(value.delegateKind) || isUnknown(value.delegateName)) return;
        const byKind = { user: userName(), robot: robotFullName(), team: teamName() }[value.delegateKind];
        const parsed = byKind?.safeParse(value.delegateName);
        if (parsed && !parsed.success) {
          const hint = value.delegateKind === "user" && value.delegateName.includes("+") ? " (a robot: use delegateKind: robot)" : "";
          ctx.addIssue({ code: "custom", path: ["delegateName"], message: `${value.delegateKind} ${parsed.error.issues[0]?.message ?? "invalid name"}${hint}` });
          return;
        }
        const robot = value.delegateKind === "robot" ? splitRobotName(value.delegateName) : undefined;
        if (robot && !isUnknown(value.organization) && robot.namespace !== value.organization) {
          ctx.addIssue({
            code: "custom",
            path: ["delegateName"],
            message: `robot ${value.delegateName} belongs to namespace ${robot.namespace}; a default permission of ${value.organization} can only delegate to its own robots`,
          });
        }
      });
    return checkWith(schema, news, "quay:DefaultPermission");
  }

  async diff(_id: string, olds: DefaultPermissionProps, news: DefaultPermissionProps): Promise<pulumi.dynamic.DiffResult> {
    return diffProps(
      { ...olds, activatingUser: olds.activatingUser || undefined },
      { ...news, activatingUser: news.activatingUser || undefined },
      { replaceOn: ["organization", "delegateKind", "delegateName", "activatingUser"], updateOn: ["role"] },
    );
  }

  async create(inputs: DefaultPermissionProps): Promise<pulumi.dynamic.CreateResult<DefaultPermissionProps>> {
    const client = clientFor(inputs.connection, this.overrideToken);
    const list = () => this.list(client, inputs.organization);

    // Quay happily stores identical prototypes: look first.
    const matching = (await list()).filter((p) => matchesPrototype(p, inputs));
    if (matching.length > 0) {
      if (!inputs.adopt) throw alreadyExists("default permission", describe(inputs));
      const proto = matching[0];
      if (matching.length > 1) {
        void pulumi.log.warn(`quay:DefaultPermission ${describe(inputs)}: Quay holds ${matching.length} identical default permissions; adopting ${proto.id}, the others stay as they are`);
      }
      if (proto.role !== inputs.role) {
        try {
          await this.setRole(client, inputs.organization, proto.id, inputs.role);
        } catch (e) {
          throw partialCreate(proto.id, { ...inputs, role: proto.role }, e);
        }
      }
      return { id: proto.id, outs: { ...inputs } };
    }

    const body: Record<string, unknown> = {
      role: inputs.role,
      delegate: { kind: inputs.delegateKind === "team" ? "team" : "user", name: inputs.delegateName },
    };
    if (inputs.activatingUser) body.activating_user = { name: inputs.activatingUser };
    // POST is not idempotent: after an unclear outcome (timeout, reset, 5xx), look before posting again.
    const created = await writeOnce(
      async () => (await client.post<PrototypeView>(apiPath`/organization/${inputs.organization}/prototypes`, body)).body,
      async () => (await list()).find((p) => matchesPrototype(p, inputs)),
    );
    if (!created?.id) throw new Error(`quay:DefaultPermission ${describe(inputs)}: Quay returned no prototype id`);
    return { id: created.id, outs: { ...inputs } };
  }

  async read(id: string, props?: DefaultPermissionProps): Promise<pulumi.dynamic.ReadResult<DefaultPermissionProps>> {
    if (!props) throw new Error("quay:DefaultPermission cannot be imported; use `adopt: true` instead");
    const client = clientFor(props.connection, this.overrideToken);
    let protos: PrototypeView[];
    try {
      protos = await this.list(client, props.organization);
    } catch (e) {
      // The organization is gone, and its default permissions with it.
      if (isGone(e) || (await organizationGone(client, props.organization, e))) return {};
      throw e;
    }
    // A create that a killed `up` left pending is recorded under a lookup id (providers/pending-create.ts):
    // Quay chose the uuid, so find the prototype by what it delegates to, and answer with its real id.
    const proto = id.startsWith(LOOKUP_ID_PREFIX) ? protos.find((p) => matchesPrototype(p, props)) : protos.find((p) => p.id === id);
    if (!proto) return {};
    const found = { ...props, role: proto.role };
    // Drift becomes the old inputs, so the plan after a refresh marks `role`.
    return { id: proto.id, props: found, inputs: driftedInputs(props, found) };
  }

  async update(id: string, olds: DefaultPermissionProps, news: DefaultPermissionProps): Promise<pulumi.dynamic.UpdateResult<DefaultPermissionProps>> {
    if (olds.role !== news.role) {
      try {
        await this.setRole(clientFor(news.connection, this.overrideToken), news.organization, id, news.role);
      } catch (e) {
        if (isGone(e)) {
          throw new Error(`quay:DefaultPermission ${describe(news)} (${id}) no longer exists in Quay; run \`pulumi refresh\` so the next \`up\` re-creates it`);
        }
        throw e;
      }
    }
    return { outs: { ...news } };
  }

  async delete(id: string, props: DefaultPermissionProps): Promise<void> {
    const client = clientFor(props.connection, this.overrideToken);
    try {
      await client.delete(apiPath`/organization/${props.organization}/prototypes/${id}`, { idempotent: true });
    } catch (e) {
      if (!(isGone(e) || (await organizationGone(client, props.organization, e)))) throw e;
    }
  }

  private async list(client: ReturnType<typeof clientFor>, organization: string): Promise<PrototypeView[]> {
    const { body } = await client.get<{ prototypes?: PrototypeView[] }>(apiPath`/organization/${organization}/prototypes`);
    return body?.prototypes ?? [];
  }

  private async setRole(client: ReturnType<typeof clientFor>, organization: string, id: string, role: RepositoryRole): Promise<void> {
    await client.put(apiPath`/organization/${organization}/prototypes/${id}`, { role }, { idempotent: true });
  }
}

// What each resource stores as its provider: a small shim that loads DefaultPermissionProvider from the project (providers/lazy.ts).
const providerShim = lazyProvider("providers/quay/default-permission", "DefaultPermissionProvider");

/** A Quay default permission (prototype). Type token `pulumi-nodejs:dynamic/quay:DefaultPermission`; the id is Quay's uuid. */
export class DefaultPermission extends pulumi.dynamic.Resource {
  declare readonly organization: pulumi.Output<string>;
  declare readonly delegateKind: pulumi.Output<DelegateKind>;
  declare readonly delegateName: pulumi.Output<string>;
  declare readonly activatingUser: pulumi.Output<string | undefined>;
  declare readonly role: pulumi.Output<RepositoryRole>;

  constructor(name: string, args: DefaultPermissionArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerShim,
      name,
      { ...args, connection: pulumi.secret(args.connection), activatingUser: args.activatingUser, adopt: args.adopt },
      opts,
      "quay",
      "DefaultPermission",
    );
  }
}
