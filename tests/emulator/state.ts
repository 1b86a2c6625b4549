// In-memory model of the Quay tables the emulated endpoints touch.
import * as crypto from "node:crypto";

export type EntityKind = "user" | "org" | "robot";
export type RepoRole = "read" | "write" | "admin";
export type TeamRole = "member" | "creator" | "admin";

export interface Entity {
  id: number;
  uuid: string;
  username: string;
  kind: EntityKind;
  email: string;
  password: string | null; // plaintext: the emulator never leaves the test process
  verified: boolean;
  enabled: boolean;
  tagExpirationS: number;
  invoiceEmail: boolean;
  invoiceEmailAddress: string | null;
  created: Date;
  lastAccessed: Date | null;
  /** Set when the namespace was marked for deletion: the GC worker purges the row at this time (ms). */
  purgeAt?: number;
  // robots
  robotToken?: string;
  robotDescription?: string;
  robotMetadata?: Record<string, unknown>;
}

export interface Team {
  id: number;
  orgId: number;
  name: string;
  role: TeamRole;
  description: string;
  members: number[]; // entity ids, in insertion order (TeamMember rows)
}

export interface TeamInvite {
  id: number;
  teamId: number;
  userId: number | null;
  email: string | null;
  inviterId: number;
  token: string;
}

export interface Repo {
  id: number;
  nsId: number;
  name: string;
  visibility: "public" | "private";
  description: string | null;
  kind: "image";
  state: "NORMAL" | "READ_ONLY" | "MIRROR" | "MARKED_FOR_DELETION";
  badgeToken: string;
  trustEnabled: boolean;
  deletedAt?: number;
}

export interface RepoPerm {
  id: number;
  repoId: number;
  userId: number | null;
  teamId: number | null;
  role: RepoRole;
}

export interface ServiceKeyRecord {
  kid: string;
  /** SPKI PEM of the public key. */
  publicPem: string;
  created: number;
}

export interface Prototype {
  id: number;
  uuid: string;
  orgId: number;
  activatingUserId: number | null;
  delegateUserId: number | null;
  delegateTeamId: number | null;
  role: RepoRole;
}

export interface OAuthApp {
  id: number;
  nsId: number;
  name: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  applicationUri: string;
  description: string;
  avatarEmail: string | null;
}

export interface AccessToken {
  id: number;
  uuid: string;
  appId: number;
  userId: number;
  scope: string;
  token: string;
  tokenType: string;
  displayName: string | null;
  expiresAt: Date;
  created: Date;
  lastAccessed: Date | null;
}

export interface ProxyCacheConfig {
  orgId: number;
  upstreamRegistry: string;
  username: string | null;
  password: string | null;
  expirationS: number;
  insecure: boolean;
}

/** An ImageStorage row: a blob the registry holds (its bytes are in the BlobStore). Times in ms. */
export interface BlobRecord {
  digest: string;
  size: number;
  created: number;
}

/** A blob linked to a repository (UploadedBlob / ManifestBlob): what /v2/<repo>/blobs/<digest> may serve. */
export interface RepoBlob {
  repoId: number;
  digest: string;
}

/** A Manifest row: the exact bytes a client pushed, as UTF-8 text (manifests are JSON). */
export interface ManifestRecord {
  id: number;
  repoId: number;
  digest: string;
  mediaType: string;
  content: string;
  /** Digests of the config and layer blobs, or of the child manifests of an index. */
  references: string[];
  created: number;
}

/** A Tag row (only live tags are kept). */
export interface TagRecord {
  id: number;
  repoId: number;
  name: string;
  manifestDigest: string;
  lastModified: number;
}

export interface Session {
  id: string;
  csrf: string;
  userUuid: string | null;
  loginTime: number | null;
}

const UPPER_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

export function randomString(length: number, alphabet = UPPER_DIGITS): string {
  const bytes = crypto.randomBytes(length);
  let s = "";
  for (let i = 0; i < length; i++) s += alphabet[bytes[i] % alphabet.length];
  return s;
}

export const uuid4 = () => crypto.randomUUID();

/** A bcrypt-looking hash (the emulator keeps passwords in clear for verification). */
export function fakeBcrypt(): string {
  const alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  return "$2b$12$" + randomString(53, alphabet);
}

const AVATAR_COLORS = [
  "#969696", "#aec7e8", "#ff7f0e", "#ffbb78", "#2ca02c", "#98df8a", "#d62728", "#ff9896",
  "#9467bd", "#c5b0d5", "#8c564b", "#c49c94", "#e377c2", "#f7b6d2", "#7f7f7f", "#c7c7c7",
  "#bcbd22", "#1f77b4", "#17becf", "#9edae5", "#393b79", "#5254a3", "#6b6ecf", "#9c9ede",
  "#9ecae1", "#31a354", "#b5cf6b", "#a1d99b", "#bd9e39", "#e7ba52", "#e7cb94", "#a55194",
];

/** avatars/avatars.py get_data (md5 flavour). */
export function avatarData(name: string, emailOrId: string | null, kind: string) {
  const hash = crypto.createHash("md5").update((emailOrId || name).trim().toLowerCase()).digest("hex");
  const byteCount = Math.ceil(Math.log(AVATAR_COLORS.length) / Math.log(16));
  const color = AVATAR_COLORS[parseInt(hash.slice(0, byteCount), 16) % AVATAR_COLORS.length];
  return { name, hash, color, kind };
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const p2 = (n: number) => String(n).padStart(2, "0");

/** email.utils.formatdate(timegm(...)): RFC 2822 with "-0000". */
export function formatDate(d: Date | null): string | null {
  if (!d) return null;
  return `${DAYS[d.getUTCDay()]}, ${p2(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} -0000`;
}

/** datetime.isoformat() + "Z" on a naive UTC datetime. */
export function isoZ(d: Date | null): string | null {
  if (!d) return null;
  const base = `${d.getUTCFullYear()}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())}T${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}`;
  const ms = d.getUTCMilliseconds();
  return (ms ? `${base}.${String(ms * 1000).padStart(6, "0")}` : base) + "Z";
}

/**
 * Fields of QuayState that are not kept in the stand-in's database (persist.ts persists every other own
 * field, one table each, so a collection added to QuayState is persisted without new code). Sessions live in
 * Redis in the stand-in (backends.ts), as short-lived web state.
 */
export const NOT_IN_DATABASE: readonly string[] = ["sessions"];

/** The QuayState fields persist.ts keeps in PostgreSQL: every own field but NOT_IN_DATABASE. */
export function persistedFields(st: QuayState): string[] {
  return Object.keys(st).filter((k) => !NOT_IN_DATABASE.includes(k));
}

export class QuayState {
  private nextId = 1;
  entities: Entity[] = [];
  teams: Team[] = [];
  invites: TeamInvite[] = [];
  repos: Repo[] = [];
  perms: RepoPerm[] = [];
  prototypes: Prototype[] = [];
  apps: OAuthApp[] = [];
  tokens: AccessToken[] = [];
  proxyCaches: ProxyCacheConfig[] = [];
  blobs: BlobRecord[] = [];
  repoBlobs: RepoBlob[] = [];
  manifests: ManifestRecord[] = [];
  tags: TagRecord[] = [];
  /**
   * Public halves of the instances' registry token keys (Quay's `servicekey` table): every instance signs
   * /v2/auth tokens with its own private key and verifies a token by the key id it names, so a token one
   * instance issued is accepted by the others on the same database.
   */
  serviceKeys: ServiceKeyRecord[] = [];
  /** DeletedNamespace rows: original username -> time (ms) the GC worker purges it. */
  deletedNamespaces = new Map<string, number>();
  sessions = new Map<string, Session>();
  stars = new Set<string>(); // `${userId}:${repoId}`

  id(): number {
    return this.nextId++;
  }

  // ---- users / orgs / robots
  byName(username: string): Entity | undefined {
    return this.entities.find((e) => e.username === username);
  }
  /** data.model.user.get_user: users and robots, not orgs. */
  getUser(username: string): Entity | undefined {
    const e = this.byName(username);
    return e && e.kind !== "org" ? e : undefined;
  }
  getNonRobotUser(username: string): Entity | undefined {
    const e = this.byName(username);
    return e && e.kind === "user" ? e : undefined;
  }
  getOrg(name: string): Entity | undefined {
    const e = this.byName(name);
    return e && e.kind === "org" ? e : undefined;
  }
  /** get_namespace_user: users and orgs (not robots). */
  getNamespace(name: string): Entity | undefined {
    const e = this.byName(name);
    return e && e.kind !== "robot" ? e : undefined;
  }
  entity(id: number | null | undefined): Entity | undefined {
    return id == null ? undefined : this.entities.find((e) => e.id === id);
  }
  byUuid(uuid: string): Entity | undefined {
    return this.entities.find((e) => e.uuid === uuid);
  }

  newEntity(username: string, kind: EntityKind, email: string, tagExpirationS: number): Entity {
    const e: Entity = {
      id: this.id(),
      uuid: uuid4(),
      username,
      kind,
      email,
      password: null,
      verified: false,
      enabled: true,
      tagExpirationS,
      invoiceEmail: false,
      invoiceEmailAddress: null,
      created: new Date(),
      lastAccessed: null,
    };
    this.entities.push(e);
    return e;
  }

  // ---- teams
  team(orgId: number, name: string): Team | undefined {
    return this.teams.find((t) => t.orgId === orgId && t.name === name);
  }
  teamById(id: number | null | undefined): Team | undefined {
    return id == null ? undefined : this.teams.find((t) => t.id === id);
  }
  teamsOf(orgId: number): Team[] {
    return this.teams.filter((t) => t.orgId === orgId);
  }
  /** Teams of the org that the entity belongs to. */
  memberTeams(entityId: number, orgId: number): Team[] {
    return this.teams.filter((t) => t.orgId === orgId && t.members.includes(entityId));
  }
  /** TeamMember rows of an org, in (team id, insertion) order: list_organization_members_by_teams. */
  orgMemberships(orgId: number): { team: Team; member: Entity }[] {
    const out: { team: Team; member: Entity }[] = [];
    for (const t of this.teamsOf(orgId)) for (const m of t.members) {
      const e = this.entity(m);
      if (e) out.push({ team: t, member: e });
    }
    return out;
  }
  isOrgMember(entityId: number, orgId: number): boolean {
    return this.teams.some((t) => t.orgId === orgId && t.members.includes(entityId));
  }

  // ---- repositories
  repo(nsName: string, name: string): Repo | undefined {
    const ns = this.getNamespace(nsName);
    if (!ns) return undefined;
    return this.repos.find((r) => r.nsId === ns.id && r.name === name && r.state !== "MARKED_FOR_DELETION");
  }
  repoById(id: number): Repo | undefined {
    return this.repos.find((r) => r.id === id);
  }
  permsOfRepo(repoId: number): RepoPerm[] {
    return this.perms.filter((p) => p.repoId === repoId);
  }

  /** Remove everything a deleted entity owned or was referenced by. */
  purgeEntity(e: Entity): void {
    this.entities = this.entities.filter((x) => x.id !== e.id);
    for (const t of this.teams) t.members = t.members.filter((m) => m !== e.id);
    this.perms = this.perms.filter((p) => p.userId !== e.id);
    this.invites = this.invites.filter((i) => i.userId !== e.id && i.inviterId !== e.id);
    this.prototypes = this.prototypes.filter((p) => p.activatingUserId !== e.id && p.delegateUserId !== e.id);
    const apps = this.apps.filter((a) => a.nsId === e.id).map((a) => a.id);
    this.apps = this.apps.filter((a) => a.nsId !== e.id);
    this.tokens = this.tokens.filter((t) => t.userId !== e.id && !apps.includes(t.appId));
  }
  purgeTeam(t: Team): void {
    this.teams = this.teams.filter((x) => x.id !== t.id);
    this.perms = this.perms.filter((p) => p.teamId !== t.id);
    this.invites = this.invites.filter((i) => i.teamId !== t.id);
    this.prototypes = this.prototypes.filter((p) => p.delegateTeamId !== t.id);
  }
  purgeRepo(r: Repo): void {
    this.repos = this.repos.filter((x) => x.id !== r.id);
    this.perms = this.perms.filter((p) => p.repoId !== r.id);
    this.repoBlobs = this.repoBlobs.filter((b) => b.repoId !== r.id);
    this.manifests = this.manifests.filter((m) => m.repoId !== r.id);
    this.tags = this.tags.filter((t) => t.repoId !== r.id);
  }

  /** The namespace/repository GC workers: purge what was marked for deletion long enough ago. */
  collectGarbage(now: number): void {
    for (const [name, until] of this.deletedNamespaces) if (until <= now) this.deletedNamespaces.delete(name);
    for (const r of [...this.repos]) if (r.state === "MARKED_FOR_DELETION" && (r.deletedAt ?? 0) <= now) this.purgeRepo(r);
    for (const e of [...this.entities]) {
      if (e.purgeAt === undefined || e.purgeAt > now) continue;
      for (const r of this.repos.filter((x) => x.nsId === e.id)) this.purgeRepo(r);
      this.purgeEntity(e);
    }
  }

  snapshot(): unknown {
    return {
      entities: this.entities.map((e) => ({ ...e, password: e.password ? "<set>" : null, robotToken: e.robotToken ? "<set>" : undefined })),
      teams: this.teams,
      invites: this.invites,
      repos: this.repos,
      perms: this.perms,
      prototypes: this.prototypes,
      apps: this.apps.map((a) => ({ ...a, clientSecret: "<set>" })),
      tokens: this.tokens.map((t) => ({ ...t, token: "<set>" })),
      proxyCaches: this.proxyCaches.map((p) => ({ ...p, password: p.password ? "<set>" : null })),
      deletedNamespaces: Object.fromEntries(this.deletedNamespaces),
      blobs: this.blobs,
      repoBlobs: this.repoBlobs,
      manifests: this.manifests.map((m) => ({ ...m, content: `<${m.content.length} chars>` })),
      tags: this.tags,
    };
  }
}
