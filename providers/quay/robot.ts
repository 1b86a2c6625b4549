// RobotAccount: a namespace-scoped robot whose token oc-mirror and CI use for `/v2` pushes and pulls.
import * as pulumi from "@pulumi/pulumi";
import { lazyProvider } from "../lazy";
import { QuayProvider } from "./base";
import { z } from "zod";
import { apiPath } from "./client";
import {
  CommonProps,
  QuayConnectionArgs,
  alreadyExists,
  checkWith,
  compact,
  clientFor,
  commonShape,
  diffProps,
  isGone,
  isUnknown,
  organizationGone,
  writeOnce,
} from "./common";
import { namespaceName, robotShortName } from "./names";

export interface RobotAccountArgs {
  connection: pulumi.Input<QuayConnectionArgs>;
  /** Organization that owns the robot. */
  namespace: pulumi.Input<string>;
  /** Short name; the robot's username is `<namespace>+<name>`. */
  name: pulumi.Input<string>;
  /**
   * Description, set when the robot is created. Quay has no API to change a robot's description
   * afterwards, so a later change is not sent (and shows no diff): re-create the robot to change it.
   */
  description?: pulumi.Input<string>;
  /** Any value; changing it regenerates the robot's token in place (rotation). */
  rotateToken?: pulumi.Input<string>;
  /** Take over a robot that already exists (its current token is kept) instead of failing. */
  adopt?: pulumi.Input<boolean>;
}

export interface RobotAccountProps extends CommonProps {
  namespace: string;
  name: string;
  description: string;
  rotateToken?: string;
}

export interface RobotAccountOutputs extends RobotAccountProps {
  /** `<namespace>+<name>`: the username for `podman login`. */
  fullName: string;
  /** The robot's token: the password for `podman login`. Secret. */
  token: string;
}

interface RobotView {
  name: string;
  description?: string;
  token?: string;
}

// Quay answers 400 "Could not find robot with specified username" for a missing robot (not 404).
const robotGone = () => [/Could not find robot/i];

export class RobotAccountProvider extends QuayProvider implements pulumi.dynamic.ResourceProvider<RobotAccountProps, RobotAccountOutputs> {
  static readonly instance = new RobotAccountProvider();

  async check(_olds: RobotAccountProps, news: RobotAccountProps): Promise<pulumi.dynamic.CheckResult<RobotAccountProps>> {
    const schema = z.object({
      ...commonShape(),
      namespace: namespaceName(),
      name: robotShortName(),
      description: z.string().max(255, "description must be at most 255 characters").default(""),
      rotateToken: z.string().optional(),
    });
    const checked = checkWith(schema, news, "quay:RobotAccount");
    // The username is known from the inputs: returning it here keeps `fullName` known while a preview plans
    // an update (the engine previews an update with the checked inputs as state), so a token rotation does
    // not show every team, permission and grant naming the robot as a replacement.
    if (!checked.failures?.length && !isUnknown(news.namespace) && !isUnknown(news.name)) {
      (checked.inputs as RobotAccountProps & { fullName?: string }).fullName = `${news.namespace}+${news.name}`;
    }
    return checked;
  }

  async diff(_id: string, olds: RobotAccountOutputs, news: RobotAccountProps): Promise<pulumi.dynamic.DiffResult> {
    return diffProps(olds, news, { replaceOn: ["namespace", "name"], updateOn: ["rotateToken"] });
  }

  async create(inputs: RobotAccountProps): Promise<pulumi.dynamic.CreateResult<RobotAccountOutputs>> {
    const client = clientFor(inputs.connection, this.overrideToken);
    const path = apiPath`/organization/${inputs.namespace}/robots/${inputs.name}`;
    const fullName = `${inputs.namespace}+${inputs.name}`;
    const lookup = async (): Promise<RobotView | undefined> => {
      try {
        return (await client.get<RobotView>(path)).body;
      } catch (e) {
        if (isGone(e, robotGone())) return undefined;
        throw e;
      }
    };

    let robot: RobotView | undefined;
    try {
      // Robot PUT is not idempotent (400 "Existing robot" the second time): after an unclear outcome, look first.
      robot = await writeOnce(async () => (await client.put<RobotView>(path, { description: inputs.description })).body, lookup);
    } catch (e) {
      if (!/Existing robot/i.test((e as { quayMessage?: string }).quayMessage ?? "")) throw e;
      if (!inputs.adopt) throw alreadyExists("robot account", fullName);
      robot = await lookup();
    }
    if (!robot?.token) throw new Error(`quay:RobotAccount ${fullName}: Quay returned no token (the caller must be an organization admin)`);
    return { id: fullName, outs: compact({ ...inputs, fullName, token: robot.token }) };
  }

  async read(id: string, props?: RobotAccountOutputs): Promise<pulumi.dynamic.ReadResult<RobotAccountOutputs>> {
    if (!props) throw new Error("quay:RobotAccount cannot be imported; use `adopt: true` instead");
    const client = clientFor(props.connection, this.overrideToken);
    try {
      const { body } = await client.get<RobotView>(apiPath`/organization/${props.namespace}/robots/${props.name}`);
      // A token regenerated in the UI shows up here, so consumers of the output get the working one.
      // fullName too: a create left pending by a killed `up` is recorded with the inputs only (providers/pending-create.ts).
      return { id, props: compact({ ...props, fullName: id, description: body.description ?? props.description, token: body.token ?? props.token }) };
    } catch (e) {
      // A deleted organization's robots answer 403: the robot is gone with it.
      if (isGone(e, robotGone()) || (await organizationGone(client, props.namespace, e))) return {};
      throw e;
    }
  }

  async update(_id: string, olds: RobotAccountOutputs, news: RobotAccountProps): Promise<pulumi.dynamic.UpdateResult<RobotAccountOutputs>> {
    let token = olds.token;
    if ((olds.rotateToken ?? "") !== (news.rotateToken ?? "")) {
      const client = clientFor(news.connection, this.overrideToken);
      const { body } = await client.post<RobotView>(apiPath`/organization/${news.namespace}/robots/${news.name}/regenerate`, undefined, { idempotent: true });
      if (!body.token) throw new Error(`quay:RobotAccount ${olds.fullName}: regenerate returned no token`);
      token = body.token;
    }
    // The description is create-only in Quay; keep what Quay has.
    return { outs: compact({ ...news, description: olds.description, fullName: olds.fullName, token }) };
  }

  async delete(_id: string, props: RobotAccountOutputs): Promise<void> {
    const client = clientFor(props.connection, this.overrideToken);
    try {
      await client.delete(apiPath`/organization/${props.namespace}/robots/${props.name}`, { idempotent: true });
    } catch (e) {
      if (!(isGone(e, robotGone()) || (await organizationGone(client, props.namespace, e)))) throw e;
    }
  }
}

// What each resource stores as its provider: a small shim that loads RobotAccountProvider from the project (providers/lazy.ts).
const providerShim = lazyProvider("providers/quay/robot", "RobotAccountProvider");

/** A Quay robot account. Type token `pulumi-nodejs:dynamic/quay:RobotAccount`; `token` is a secret output. */
export class RobotAccount extends pulumi.dynamic.Resource {
  declare readonly namespace: pulumi.Output<string>;
  declare readonly name: pulumi.Output<string>;
  declare readonly description: pulumi.Output<string>;
  declare readonly fullName: pulumi.Output<string>;
  declare readonly token: pulumi.Output<string>;

  constructor(name: string, args: RobotAccountArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerShim,
      name,
      {
        ...args,
        connection: pulumi.secret(args.connection),
        description: args.description,
        rotateToken: args.rotateToken,
        adopt: args.adopt,
        fullName: undefined,
        token: undefined,
      },
      pulumi.mergeOptions(opts, { additionalSecretOutputs: ["token"] }),
      "quay",
      "RobotAccount",
    );
  }
}
