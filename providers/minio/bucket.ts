// Bucket: a MinIO bucket with its versioning state and its lifecycle rules, both owned completely: a rule
// added by hand is drift, shown after a refresh and removed by the next `up`. An empty `lifecycleRules`
// means "no lifecycle configuration at all" (quay-storage must never expire a blob: docs/storage.md).
//
// Delete never loses objects silently: a bucket that still holds objects (or object versions) is refused
// with an error that says so, unless `forceDestroy` is set.
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { lazyProvider } from "../lazy";
import { checkWith, compact, canonical, partialCreate } from "../quay/common";
import { MinioConnection, at, hasCode, isMcError, runMc } from "./client";
import { BUCKET_NAME_RE, MinioConnectionArgs, connectionSchema, minioDiff } from "./common";

/** One lifecycle rule, in the small model this project uses. */
export interface LifecycleRule {
  /** Rule ID, unique in the bucket. */
  id: string;
  /** Expire current object versions this many days after creation. */
  expireDays?: number;
  /** Expire noncurrent object versions this many days after they became noncurrent. */
  noncurrentExpireDays?: number;
  /** Only objects under this prefix (default: the whole bucket). */
  prefix?: string;
}

/**
 * A rule as MinIO really has it: the modelled fields, plus `disabled` and `unmodeled` (canonical JSON of
 * every setting outside the model: tags, transitions, dates…) so that no hand-made rule reads as equal to
 * a wanted one.
 */
export interface ObservedLifecycleRule extends LifecycleRule {
  disabled?: boolean;
  unmodeled?: string;
}

export interface BucketArgs {
  connection: pulumi.Input<MinioConnectionArgs>;
  /** Bucket name (a change replaces the bucket; the old one is only deleted if empty). */
  name: pulumi.Input<string>;
  /** Keep every version of every object. Default false. Turning it off suspends versioning (S3 cannot undo it). */
  versioning?: pulumi.Input<boolean>;
  /** The complete lifecycle configuration. Default [] = none at all. */
  lifecycleRules?: pulumi.Input<pulumi.Input<LifecycleRule>[]>;
  /** Let `delete` remove a bucket that still holds objects, with all of them. Default false. */
  forceDestroy?: pulumi.Input<boolean>;
  /** Take over a bucket that already exists (and converge its settings) instead of failing. Default false. */
  adopt?: pulumi.Input<boolean>;
}

export interface BucketProps {
  connection: MinioConnection;
  name: string;
  versioning: boolean;
  lifecycleRules: ObservedLifecycleRule[];
  forceDestroy: boolean;
  adopt?: boolean;
}

/** S3's lifecycle JSON, as `mc ilm rule export` prints and `mc ilm rule import` reads it. */
interface S3Rule {
  ID?: string;
  Status?: string;
  Prefix?: string;
  Filter?: { Prefix?: string; [k: string]: unknown };
  Expiration?: { Days?: number; [k: string]: unknown };
  NoncurrentVersionExpiration?: { NoncurrentDays?: number; [k: string]: unknown };
  [k: string]: unknown;
}

// ---- pure model ------------------------------------------------------------------------------------

/** A rule in canonical form: no undefined, prefix "" dropped, for comparison and storage. */
export function normalizeRule(rule: ObservedLifecycleRule): ObservedLifecycleRule {
  return compact({
    id: rule.id,
    expireDays: rule.expireDays ?? undefined,
    noncurrentExpireDays: rule.noncurrentExpireDays ?? undefined,
    prefix: rule.prefix ? rule.prefix : undefined,
    disabled: rule.disabled ? true : undefined,
    unmodeled: rule.unmodeled || undefined,
  });
}

/** Rules in canonical form, sorted by id (MinIO does not keep the order). */
export function normalizeRules(rules: ObservedLifecycleRule[] | undefined): ObservedLifecycleRule[] {
  return (rules ?? []).map(normalizeRule).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** The lifecycle configuration for wanted rules (never called with none: that means "remove it"). */
export function renderLifecycle(rules: LifecycleRule[]): { Rules: S3Rule[] } {
  return {
    Rules: normalizeRules(rules).map((r) =>
      compact({
        ID: r.id,
        Status: "Enabled",
        Filter: { Prefix: r.prefix ?? "" },
        Expiration: r.expireDays !== undefined ? { Days: r.expireDays } : undefined,
        NoncurrentVersionExpiration: r.noncurrentExpireDays !== undefined ? { NoncurrentDays: r.noncurrentExpireDays } : undefined,
      }),
    ),
  };
}

/** MinIO's rules in this project's model; anything the model cannot say goes into `unmodeled`. */
export function parseLifecycle(config: { Rules?: S3Rule[] } | undefined): ObservedLifecycleRule[] {
  return normalizeRules(
    (config?.Rules ?? []).map((raw) => {
      const { ID, Status, Prefix, Filter, Expiration, NoncurrentVersionExpiration, ...rest } = raw;
      const extra: Record<string, unknown> = { ...rest };
      const { Prefix: filterPrefix, ...filterRest } = Filter ?? {};
      if (Object.keys(filterRest).length) extra.Filter = filterRest;
      const { Days, ...expirationRest } = Expiration ?? {};
      if (Object.keys(expirationRest).length) extra.Expiration = expirationRest;
      const { NoncurrentDays, ...noncurrentRest } = NoncurrentVersionExpiration ?? {};
      if (Object.keys(noncurrentRest).length) extra.NoncurrentVersionExpiration = noncurrentRest;
      // MinIO reports zero values for absent fields in places; zero days is never a real setting.
      for (const [k, v] of Object.entries(extra)) if (isEmptyValue(v)) delete extra[k];
      return {
        id: ID ?? "",
        expireDays: Days ? Days : undefined,
        noncurrentExpireDays: NoncurrentDays ? NoncurrentDays : undefined,
        prefix: Prefix || filterPrefix || undefined,
        disabled: Status !== undefined && Status !== "Enabled" ? true : undefined,
        unmodeled: Object.keys(extra).length ? canonical(extra) : undefined,
      };
    }),
  );
}

function isEmptyValue(v: unknown): boolean {
  if (v === null || v === undefined || v === "" || v === 0 || v === false) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === "object") return Object.values(v as Record<string, unknown>).every(isEmptyValue);
  return false;
}

// ---- MinIO calls -----------------------------------------------------------------------------------

async function bucketExists(connection: MinioConnection, name: string): Promise<boolean> {
  try {
    await runMc(connection, ["version", "info", at(name)]);
    return true;
  } catch (e) {
    if (hasCode(e, "NoSuchBucket")) return false;
    throw e;
  }
}

async function readVersioning(connection: MinioConnection, name: string): Promise<boolean> {
  const [line] = await runMc(connection, ["version", "info", at(name)]);
  return (line?.versioning as { status?: string } | undefined)?.status === "Enabled";
}

async function readLifecycle(connection: MinioConnection, name: string): Promise<ObservedLifecycleRule[]> {
  try {
    const [line] = await runMc(connection, ["ilm", "rule", "export", at(name)]);
    return parseLifecycle(line?.config as { Rules?: S3Rule[] } | undefined);
  } catch (e) {
    if (hasCode(e, "NoSuchLifecycleConfiguration")) return [];
    throw e;
  }
}

async function setVersioning(connection: MinioConnection, name: string, wanted: boolean): Promise<void> {
  if ((await readVersioning(connection, name)) === wanted) return;
  await runMc(connection, ["version", wanted ? "enable" : "suspend", at(name)]);
}

/** Makes the lifecycle configuration exactly `wanted`: replaced as a whole, or removed when empty. */
async function setLifecycle(connection: MinioConnection, name: string, wanted: LifecycleRule[]): Promise<void> {
  const actual = await readLifecycle(connection, name);
  if (canonical(actual) === canonical(normalizeRules(wanted))) return;
  if (wanted.length === 0) {
    await runMc(connection, ["ilm", "rule", "rm", "--all", "--force", at(name)]);
    return;
  }
  // `import` replaces the whole configuration, hand-added rules included.
  await runMc(connection, ["ilm", "rule", "import", at(name)], { stdin: JSON.stringify(renderLifecycle(wanted)) });
}

async function converge(props: BucketProps): Promise<void> {
  await setVersioning(props.connection, props.name, props.versioning);
  await setLifecycle(props.connection, props.name, props.lifecycleRules);
}

// ---- provider --------------------------------------------------------------------------------------

function ruleSchema() {
  const days = z.number().int("must be a whole number of days").min(1, "must be at least 1 day").max(36500, "must be at most 36500 days");
  return z
    .object({
      id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/, "must be 1–255 of letters, digits, '.', '_', '-'"),
      expireDays: days.optional(),
      noncurrentExpireDays: days.optional(),
      prefix: z.string().max(1024).optional(),
    })
    .strict()
    .refine((r) => r.expireDays !== undefined || r.noncurrentExpireDays !== undefined, {
      message: "a rule must expire something: set expireDays and/or noncurrentExpireDays",
    });
}

export class BucketProvider implements pulumi.dynamic.ResourceProvider<BucketProps, BucketProps> {
  static readonly instance = new BucketProvider();

  async check(_olds: BucketProps, news: BucketProps): Promise<pulumi.dynamic.CheckResult<BucketProps>> {
    const schema = z.object({
      connection: connectionSchema(),
      name: z.string().regex(BUCKET_NAME_RE, "must be 3–63 of a-z, 0-9, '.', '-', starting and ending with a letter or digit"),
      versioning: z.boolean().default(false),
      lifecycleRules: z
        .array(ruleSchema())
        .default([])
        .refine((rules) => new Set(rules.map((r) => r.id)).size === rules.length, { message: "rule ids must be unique" }),
      forceDestroy: z.boolean().default(false),
      adopt: z.boolean().optional(),
    });
    const result = checkWith(schema, news, "minio:Bucket");
    if (result.failures?.length || !result.inputs || !Array.isArray(result.inputs.lifecycleRules)) return result;
    return { inputs: { ...result.inputs, lifecycleRules: normalizeRules(result.inputs.lifecycleRules) } };
  }

  async diff(_id: string, olds: BucketProps, news: BucketProps): Promise<pulumi.dynamic.DiffResult> {
    return minioDiff(
      { ...olds, lifecycleRules: normalizeRules(olds.lifecycleRules) },
      { ...news, lifecycleRules: normalizeRules(news.lifecycleRules) },
      ["versioning", "lifecycleRules", "forceDestroy"],
      ["name"],
      { versioning: false, forceDestroy: false },
    );
  }

  async create(inputs: BucketProps): Promise<pulumi.dynamic.CreateResult<BucketProps>> {
    const props = this.props(inputs);
    try {
      await runMc(props.connection, ["mb", at(props.name)]);
    } catch (e) {
      if (!hasCode(e, "BucketAlreadyOwnedByYou", "BucketAlreadyExists")) throw e;
      if (!props.adopt) {
        throw new Error(
          `bucket "${props.name}" already exists in MinIO at ${props.connection.endpoint}. To manage it with Pulumi (its versioning and ` +
            "lifecycle will be set to the program's), set `adopt: true` on this resource and run `pulumi up` (pulumi import does not work for dynamic resources).",
        );
      }
    }
    try {
      await converge(props);
    } catch (e) {
      // The bucket exists now: record it (the next `up` updates it) rather than leave it unowned.
      throw partialCreate(props.name, { ...inputs, ...props }, e);
    }
    return { id: props.name, outs: props };
  }

  async read(id: string, props?: BucketProps): Promise<pulumi.dynamic.ReadResult<BucketProps>> {
    if (!props) throw new Error("minio:Bucket cannot be imported; use `adopt: true` instead");
    const name = props.name ?? id;
    if (!(await bucketExists(props.connection, name))) return {};
    const actual = compact({
      ...props,
      name,
      versioning: await readVersioning(props.connection, name),
      lifecycleRules: await readLifecycle(props.connection, name),
    });
    // The live values as inputs too: the next diff compares them with the program's and names the drift.
    return { id, props: actual, inputs: actual };
  }

  async update(_id: string, _olds: BucketProps, news: BucketProps): Promise<pulumi.dynamic.UpdateResult<BucketProps>> {
    const props = this.props(news);
    await converge(props);
    return { outs: props };
  }

  async delete(id: string, props: BucketProps): Promise<void> {
    const name = props.name ?? id;
    if (!(await bucketExists(props.connection, name))) return;
    try {
      await runMc(props.connection, props.forceDestroy ? ["rb", "--force", at(name)] : ["rb", at(name)]);
    } catch (e) {
      if (hasCode(e, "NoSuchBucket")) return;
      if (hasCode(e, "BucketNotEmpty") || (isMcError(e) && /not empty/i.test(`${e.mcMessage} ${e.minioMessage}`))) {
        throw new Error(
          `refusing to delete bucket "${name}": it still holds objects (or object versions), and deleting it would lose them. ` +
            "Empty it yourself, or set `forceDestroy: true` on the bucket, run `pulumi up`, then delete it again.",
        );
      }
      throw e;
    }
  }

  /** Validated inputs with defaults, as stored. */
  private props(inputs: BucketProps): BucketProps {
    return compact({
      connection: inputs.connection,
      name: inputs.name,
      versioning: inputs.versioning ?? false,
      lifecycleRules: normalizeRules(inputs.lifecycleRules),
      forceDestroy: inputs.forceDestroy ?? false,
      adopt: inputs.adopt,
    });
  }
}

// What each resource stores as its provider: a small shim that loads BucketProvider from the project (providers/lazy.ts).
const providerShim = lazyProvider("providers/minio/bucket", "BucketProvider");

/** A MinIO bucket with owned versioning and lifecycle. Type token `pulumi-nodejs:dynamic/minio:Bucket`. */
export class Bucket extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly versioning: pulumi.Output<boolean>;
  declare readonly lifecycleRules: pulumi.Output<ObservedLifecycleRule[]>;
  declare readonly forceDestroy: pulumi.Output<boolean>;

  constructor(name: string, args: BucketArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerShim,
      name,
      {
        connection: pulumi.secret(args.connection),
        name: args.name,
        versioning: args.versioning ?? false,
        lifecycleRules: args.lifecycleRules ?? [],
        forceDestroy: args.forceDestroy ?? false,
        adopt: args.adopt,
      },
      opts,
      "minio",
      "Bucket",
    );
  }
}
