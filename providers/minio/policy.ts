// Policy: a MinIO canned IAM policy (a named JSON policy document that users are attached to).
//
// The document is compared in a normalized form (statements and their action/resource lists sorted,
// single values as lists, keys in order), because MinIO reorders lists and the program may write a single
// action as a string. `read` reports the document MinIO really has, so a policy widened by hand shows as
// drift after a refresh and `up` writes the program's document back.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { lazyProvider } from "../lazy";
import { canonical, checkWith, compact } from "../quay/common";
import { MinioConnection, at, hasCode, runMc } from "./client";
import { IAM_NAME_RE, MinioConnectionArgs, connectionSchema, minioDiff } from "./common";

/** An IAM policy statement (the subset MinIO uses). */
export interface PolicyStatement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: Record<string, unknown>;
}

export interface PolicyDocument {
  Version?: string;
  Statement: PolicyStatement[];
}

export interface PolicyArgs {
  connection: pulumi.Input<MinioConnectionArgs>;
  /** Policy name in MinIO (a change replaces it). */
  name: pulumi.Input<string>;
  /** The policy document, as an object or JSON text. */
  document: pulumi.Input<PolicyDocument | string>;
}

export interface PolicyProps {
  connection: MinioConnection;
  name: string;
  /** Normalized JSON text of the document (normalizePolicy). */
  document: string;
}

const LIST_KEYS = ["Action", "NotAction", "Resource", "NotResource"] as const;

/**
 * The canonical JSON text of a policy document: Version defaulted, Statement a list, action/resource values
 * sorted lists without duplicates, statements sorted, object keys sorted. Equal policies give equal text.
 */
export function normalizePolicy(document: PolicyDocument | string): string {
  const doc = (typeof document === "string" ? JSON.parse(document) : document) as Record<string, unknown>;
  const statements = Array.isArray(doc.Statement) ? doc.Statement : doc.Statement ? [doc.Statement] : [];
  const normalized = (statements as Record<string, unknown>[]).map((s) => {
    const out: Record<string, unknown> = { ...s };
    for (const k of LIST_KEYS) {
      if (out[k] === undefined) continue;
      const list = Array.isArray(out[k]) ? (out[k] as unknown[]) : [out[k]];
      out[k] = [...new Set(list.map(String))].sort();
    }
    if (!out.Sid) delete out.Sid;
    if (out.Condition && typeof out.Condition === "object" && Object.keys(out.Condition).length === 0) delete out.Condition;
    return JSON.parse(canonical(out)) as Record<string, unknown>;
  });
  normalized.sort((a, b) => (canonical(a) < canonical(b) ? -1 : canonical(a) > canonical(b) ? 1 : 0));
  return canonical({ ...doc, Version: (doc.Version as string | undefined) ?? "2012-10-17", Statement: normalized });
}

async function readDocument(connection: MinioConnection, name: string): Promise<string | undefined> {
  try {
    const [line] = await runMc(connection, ["admin", "policy", "info", at(), name]);
    const policy = (line?.policyInfo as { Policy?: PolicyDocument } | undefined)?.Policy;
    return policy ? normalizePolicy(policy) : undefined;
  } catch (e) {
    if (hasCode(e, "XMinioAdminNoSuchPolicy")) return undefined;
    throw e;
  }
}

/**
 * Creates or replaces the named policy's document (`create` overwrites an existing policy). mc reads it
 * from a file; /dev/stdin does not work when stdin is a socket, as it is for Node's children (ENXIO).
 */
async function writeDocument(connection: MinioConnection, name: string, document: string): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "qm-policy-"));
  try {
    const file = path.join(dir, "policy.json");
    fs.writeFileSync(file, document, { mode: 0o600 });
    await runMc(connection, ["admin", "policy", "create", at(), name, file]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function documentSchema() {
  const list = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);
  const statement = z
    .object({
      Sid: z.string().optional(),
      Effect: z.enum(["Allow", "Deny"]),
      Action: list.optional(),
      NotAction: list.optional(),
      Resource: list.optional(),
      NotResource: list.optional(),
      Condition: z.record(z.string(), z.unknown()).optional(),
    })
    .strict()
    .refine((s) => s.Action !== undefined || s.NotAction !== undefined, { message: "a statement needs Action (or NotAction)" })
    .refine((s) => s.Resource !== undefined || s.NotResource !== undefined, { message: "a statement needs Resource (or NotResource)" });
  return z.object({ Version: z.string().optional(), Statement: z.array(statement).min(1, "needs at least one statement") }).strict();
}

export class PolicyProvider implements pulumi.dynamic.ResourceProvider<PolicyProps, PolicyProps> {
  static readonly instance = new PolicyProvider();

  async check(_olds: PolicyProps, news: PolicyProps): Promise<pulumi.dynamic.CheckResult<PolicyProps>> {
    let document: unknown = news.document;
    if (typeof document === "string" && document !== "04da6b54-80e4-46f7-96ec-b56ff0331ba9") {
      try {
        document = JSON.parse(document);
      } catch (e) {
        return { inputs: news, failures: [{ property: "document", reason: `minio:Policy: document: not valid JSON (${(e as Error).message}) — fix: pass an object or valid JSON text` }] };
      }
    }
    const schema = z.object({
      connection: connectionSchema(),
      name: z.string().regex(IAM_NAME_RE, "must be 2–128 of letters, digits and . _ @ = + - (no spaces or commas)"),
      document: documentSchema(),
    });
    const result = checkWith(schema, { ...news, document } as PolicyProps, "minio:Policy");
    if (result.failures?.length || !document || typeof document !== "object") return result;
    return { inputs: { ...(result.inputs as PolicyProps), document: normalizePolicy(document as PolicyDocument) } };
  }

  async diff(_id: string, olds: PolicyProps, news: PolicyProps): Promise<pulumi.dynamic.DiffResult> {
    return minioDiff(olds, news, ["document"], ["name"]);
  }

  async create(inputs: PolicyProps): Promise<pulumi.dynamic.CreateResult<PolicyProps>> {
    const props = this.props(inputs);
    await writeDocument(props.connection, props.name, props.document);
    return { id: props.name, outs: props };
  }

  async read(id: string, props?: PolicyProps): Promise<pulumi.dynamic.ReadResult<PolicyProps>> {
    if (!props) throw new Error("minio:Policy cannot be imported");
    const document = await readDocument(props.connection, props.name ?? id);
    if (document === undefined) return {};
    const actual = compact({ ...props, document });
    return { id, props: actual, inputs: actual };
  }

  async update(_id: string, _olds: PolicyProps, news: PolicyProps): Promise<pulumi.dynamic.UpdateResult<PolicyProps>> {
    const props = this.props(news);
    if ((await readDocument(props.connection, props.name)) !== props.document) await writeDocument(props.connection, props.name, props.document);
    return { outs: props };
  }

  async delete(id: string, props: PolicyProps): Promise<void> {
    try {
      await runMc(props.connection, ["admin", "policy", "remove", at(), props.name ?? id]);
    } catch (e) {
      if (!hasCode(e, "XMinioAdminNoSuchPolicy")) throw e;
    }
  }

  private props(inputs: PolicyProps): PolicyProps {
    return { connection: inputs.connection, name: inputs.name, document: normalizePolicy(inputs.document) };
  }
}

// What each resource stores as its provider: a small shim that loads PolicyProvider from the project (providers/lazy.ts).
const providerShim = lazyProvider("providers/minio/policy", "PolicyProvider");

/** A MinIO canned policy. Type token `pulumi-nodejs:dynamic/minio:Policy`. `document` is normalized JSON text. */
export class Policy extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly document: pulumi.Output<string>;

  constructor(name: string, args: PolicyArgs, opts?: pulumi.CustomResourceOptions) {
    super(providerShim, name, { connection: pulumi.secret(args.connection), name: args.name, document: args.document }, opts, "minio", "Policy");
  }
}
