// RepositoryPermission: one user's, robot's or team's role on one repository.
//
// Quay facts (github.com/quay/quay endpoints/api/permission.py, data/model/permission.py):
// - PUT `…/permissions/user/{name}` (users AND robots, `+` literal) and `…/permissions/team/{team}` are
//   upserts;
// - GET of a missing permission is 400 with a `message` body "… does not have permission for repo."
//   (not 404); DELETE of a missing one is 400 with a `detail`/`error_message` body and the same text;
// - a robot can only be granted on repositories of its own namespace ("Cannot add robot ns+r under
//   namespace y").
import * as pulumi from "@pulumi/pulumi";
import { lazyProvider } from "../lazy";
import { QuayProvider } from "./base";
import { z } from "zod";
import { QuayClient, apiPath, encodeSegment, repoPath } from "./client";
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
  namespaceGone,
} from "./common";
import { namespaceName, repositoryName, repositoryRole, robotFullName, splitRobotName, teamName, userName } from "./names";

export type RepositoryRole = "read" | "write" | "admin";
export type GranteeKind = "user" | "robot" | "team";

export interface RepositoryPermissionArgs {
  connection: pulumi.Input<QuayConnectionArgs>;
  /** Organization (or user namespace) of the repository. */
  namespace: pulumi.Input<string>;
  /** Repository name inside the namespace; nested names keep their slashes. */
  repository: pulumi.Input<string>;
  /** Who gets the role: a `user`, a `robot` (of the repository's namespace) or a `team` (of its organization). */
  kind: pulumi.Input<GranteeKind>;
  /** Username, robot full name (`<namespace>+<short>`) or team name. */
  name: pulumi.Input<string>;
  /** `read`, `write` or `admin`. */
  role: pulumi.Input<RepositoryRole>;
  /**
   * Take over a permission that already exists with another role (its role is set to `role`) instead of
   * failing. Not needed for one that already has exactly `role`, nor for one a default permission of the
   * namespace applied when the repository was created: those are taken over (and set to `role`) as is.
   */
  adopt?: pulumi.Input<boolean>;
}

export interface RepositoryPermissionProps extends CommonProps {
  namespace: string;
  repository: string;
  kind: GranteeKind;
  name: string;
  role: RepositoryRole;
}

// Quay's "no such permission" answers (400, with this text, for users, robots and teams alike).
const permissionGone = () => [/does not have permission for repo/i];

function permissionPath(p: Pick<RepositoryPermissionProps, "namespace" | "repository" | "kind" | "name">): string {
  // Robots are users in Quay's permission API.
  return `/api/v1/repository/${repoPath(p.namespace, p.repository)}/permissions/${p.kind === "team" ? "team" : "user"}/${encodeSegment(p.name)}`;
}

function permissionId(p: Pick<RepositoryPermissionProps, "namespace" | "repository" | "kind" | "name">): string {
  return `${p.namespace}/${p.repository}:${p.kind}/${p.name}`;
}

export class RepositoryPermissionProvider extends QuayProvider implements pulumi.dynamic.ResourceProvider<RepositoryPermissionProps, RepositoryPermissionProps> {
  static readonly instance = new RepositoryPermissionProvider();

  async check(_olds: RepositoryPermissionProps, news: RepositoryPermissionProps): Promise<pulumi.dynamic.CheckResult<RepositoryPermissionProps>> {
    const schema = z
      .object({
        ...commonShape(),
        namespace: namespaceName(),
        repository: repositoryName(),
        kind: z.enum(["user", "robot", "team"], { message: "kind must be one of user, robot, team" }),
        name: z.string().min(1, "name must not be empty"),
        role: repositoryRole(),
      })
      .superRefine((value, ctx) => {
        if (isUnknown(value.kind) || isUnknown(value.name)) return;
        const byKind = { user: userName(), robot: robotFullName(), team: teamName() }[value.kind];
        const parsed = byKind?.safeParse(value.name);
        if (parsed && !parsed.success) {
          const hint = value.kind === "user" && value.name.includes("+") ? " (a robot: use kind: robot)" : "";
          ctx.addIssue({ code: "custom", path: ["name"], message: `${value.kind} ${parsed.error.issues[0]?.message ?? "invalid name"}${hint}` });
          return;
        }
        const robot = value.kind === "robot" ? splitRobotName(value.name) : undefined;
        if (robot && !isUnknown(value.namespace) && robot.namespace !== value.namespace) {
          ctx.addIssue({
            code: "custom",
            path: ["name"],
            message: `Cannot add robot ${value.name} under namespace ${value.namespace}: a robot can only be granted on repositories of its own namespace (${robot.namespace})`,
          });
        }
      });
    return checkWith(schema, news, "quay:RepositoryPermission");
  }

  async diff(_id: string, olds: RepositoryPermissionProps, news: RepositoryPermissionProps): Promise<pulumi.dynamic.DiffResult> {
    return diffProps(olds, news, { replaceOn: ["namespace", "repository", "kind", "name"], updateOn: ["role"] });
  }

  async create(inputs: RepositoryPermissionProps): Promise<pulumi.dynamic.CreateResult<RepositoryPermissionProps>> {
    const client = clientFor(inputs.connection, this.overrideToken);
    const id = permissionId(inputs);
    // PUT is an upsert: look first so an existing grant is only changed when asked.
    const current = await this.currentRole(client, inputs);
    if (current !== inputs.role) {
      if (current !== undefined && !inputs.adopt && !(await this.fromDefaultPermission(client, inputs))) {
        const e = alreadyExists("repository permission", id);
        e.message = e.message.replace("already exists in Quay.", `already exists in Quay with role "${current}" (declared: "${inputs.role}").`);
        throw e;
      }
      await this.put(client, inputs);
    }
    return { id, outs: { ...inputs } };
  }

  async read(id: string, props?: RepositoryPermissionProps): Promise<pulumi.dynamic.ReadResult<RepositoryPermissionProps>> {
    if (!props) throw new Error("quay:RepositoryPermission cannot be imported; use `adopt: true` instead");
    const role = await this.currentRole(clientFor(props.connection, this.overrideToken), props);
    if (role === undefined) return {};
    const found = { ...props, role };
    // Drift becomes the old inputs, so the plan after a refresh marks `role`.
    return { id, props: found, inputs: driftedInputs(props, found) };
  }

  async update(_id: string, olds: RepositoryPermissionProps, news: RepositoryPermissionProps): Promise<pulumi.dynamic.UpdateResult<RepositoryPermissionProps>> {
    if (olds.role !== news.role) await this.put(clientFor(news.connection, this.overrideToken), news);
    return { outs: { ...news } };
  }

  async delete(_id: string, props: RepositoryPermissionProps): Promise<void> {
    const client = clientFor(props.connection, this.overrideToken);
    try {
      await client.delete(permissionPath(props), { idempotent: true });
    } catch (e) {
      if (isGone(e, permissionGone())) return;
      if (await namespaceGone(client, props.namespace, e)) return;
      throw e;
    }
  }

  /** The grantee's role on the repository, or undefined when it has none. */
  private async currentRole(client: ReturnType<typeof clientFor>, p: RepositoryPermissionProps): Promise<RepositoryRole | undefined> {
    try {
      const { body } = await client.get<{ role?: RepositoryRole }>(permissionPath(p));
      return body?.role;
    } catch (e) {
      if (isGone(e, permissionGone())) return undefined;
      if (await namespaceGone(client, p.namespace, e)) return undefined;
      throw e;
    }
  }

  /**
   * Whether one of the namespace's default permissions (prototypes) names this grantee: then Quay applied the
   * existing grant itself when the repository was created (often by this program, whose repositories depend
   * on their namespace's default permissions), and the declared role simply wins. Hand-made grants still
   * need `adopt`. False when the list cannot be read (a user namespace has none).
   */
  private async fromDefaultPermission(client: ReturnType<typeof clientFor>, p: RepositoryPermissionProps): Promise<boolean> {
    try {
      const { body } = await client.get<{ prototypes?: Array<{ delegate?: { name?: string; kind?: string } | null }> }>(apiPath`/organization/${p.namespace}/prototypes`);
      const kind = p.kind === "team" ? "team" : "user";
      const applied = (body?.prototypes ?? []).some((proto) => proto.delegate?.kind === kind && proto.delegate?.name === p.name);
      if (applied) {
        void pulumi.log.info(`quay:RepositoryPermission ${permissionId(p)}: the grant Quay applied from a default permission is set to the declared role "${p.role}"`);
      }
      return applied;
    } catch {
      return false;
    }
  }

  /** Sets the role (an upsert, safe to repeat). Quay answers a 500 for a repository that does not exist: say so. */
  private async put(client: ReturnType<typeof clientFor>, p: RepositoryPermissionProps): Promise<void> {
    try {
      await client.put(permissionPath(p), { role: p.role }, { idempotent: true });
    } catch (e) {
      if ((e as { status?: number }).status !== undefined && (e as { status: number }).status >= 500) {
        let missing = false;
        try {
          await client.get(`/api/v1/repository/${repoPath(p.namespace, p.repository)}`);
        } catch (lookup) {
          missing = isGone(lookup);
        }
        if (missing) throw new Error(`quay:RepositoryPermission ${permissionId(p)}: repository ${p.namespace}/${p.repository} does not exist`);
      }
      throw e;
    }
  }
}

// What each resource stores as its provider: a small shim that loads RepositoryPermissionProvider from the project (providers/lazy.ts).
const providerShim = lazyProvider("providers/quay/repository-permission", "RepositoryPermissionProvider");

/** A role on a Quay repository. Type token `pulumi-nodejs:dynamic/quay:RepositoryPermission`. */
export class RepositoryPermission extends pulumi.dynamic.Resource {
  declare readonly namespace: pulumi.Output<string>;
  declare readonly repository: pulumi.Output<string>;
  declare readonly kind: pulumi.Output<GranteeKind>;
  declare readonly name: pulumi.Output<string>;
  declare readonly role: pulumi.Output<RepositoryRole>;

  constructor(name: string, args: RepositoryPermissionArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerShim,
      name,
      { ...args, connection: pulumi.secret(args.connection), adopt: args.adopt },
      opts,
      "quay",
      "RepositoryPermission",
    );
  }
}
