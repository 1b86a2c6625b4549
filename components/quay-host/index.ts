// QuayHost: provisions the Quay mirror registry's VM over SSH as a chain of small, idempotent
// remote.Commands, each re-run only when what it installs changes, so that an `up` that changes one file
// re-runs one step (components/quay-host/README.md).
//
// How re-runs are decided (pulumi-command 1.2.1): a change of `create`, `stdin` or `connection` is an
// in-place update that re-runs `create`; a change of `triggers` replaces the Command. Every step embeds the
// content hash of what it installs in its (secret-free) `create` script, so a change re-runs exactly the
// steps that install it: one config key ⇒ the config step, the unit step (restart) and the health wait.
// `triggers` is used once, deliberately: `bootstrap.renew` replaces the initialize step to mint a new
// bootstrap token through the sign-in path.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as command from "@pulumi/command";
import {
  checkLater,
  defaultQuayImage,
  lateRules,
  parseQuayHostArgs,
  QuayHostConfigError,
  QuayHostInput,
  QuayHostSettings,
  resolveHostKey,
  StringInput,
  TRUST_ON_FIRST_USE,
} from "../../config/quay-host";
import {
  APT_PACKAGES,
  archiveRemotePath,
  BOOTSTRAP_TOKEN_LIFETIME_SECONDS,
  BOOTSTRAP_TOKEN_SCOPE,
  ImageSource,
  LOCAL_IMAGE_REPOSITORY,
  localImageRef,
  MC_REMOTE_PATH,
  mcUploadPath,
  PODMAN_CGROUPS_DROPIN,
  PODMAN_CGROUPS_DROPIN_PATH,
  POSTGRES_PORT,
  INITIALIZED_MARKER,
  PREFLIGHT_PROBE_PREFIX,
  QUAY_CONFIG_DIR,
  QUAY_CONTAINER_UID,
  QUAY_CONTAINER_USER,
  QUAY_HTTP_PORT,
  QUAY_STORAGE_DIR,
  QUAY_UNIT_PATH,
  REDIS_PORT,
  renderQuayConfig,
  renderQuayUnit,
  renderStep,
  serializeQuayConfig,
  sha256File,
  sha256Hex,
  sshCommand,
  StepTemplate,
  StepValue,
  storageEndpoint,
  UPLOAD_DIR,
} from "./render";

import { ALPHANUMERIC, RandomSecret } from "../../providers/local/random-secret";

export * from "./render";

/** A bastion (jump host) the SSH connection goes through. */
export interface QuayHostBastionArgs {
  /** Bastion host name or IP address. */
  host: string;
  /** Bastion SSH port. Default 22. */
  port?: number;
  /** Bastion SSH user. Default "root". */
  user?: string;
  /** PEM private key for the bastion (a secret). Default: the target's key, or its agent. */
  privateKey?: StringInput;
  /** The SSH agent for the bastion (instead of privateKey). Default: the target's key, or its agent. */
  agentSocketPath?: string;
  /** The bastion's key in authorized_keys format (`ssh-ed25519 AAAA…`). One of hostKey, knownHostsFile, hostKeyPolicy: "trust-on-first-use" is required. */
  hostKey?: string;
  /** A known_hosts file (read at program time) whose entry for the bastion is pinned as its hostKey. */
  knownHostsFile?: string;
  /** "strict" (default): hostKey or knownHostsFile pins the key. "trust-on-first-use": see QuayHostConnectionArgs. */
  hostKeyPolicy?: "strict" | "trust-on-first-use";
}

/** How pulumi-command reaches the Quay host. */
export interface QuayHostConnectionArgs {
  /** Host name or IP address of the Quay VM (may be another resource's output). */
  host: StringInput;
  /** SSH port. Default 22. The firewall always allows this port from anywhere. */
  port?: number;
  /** SSH user: root, or a user with passwordless sudo (`sudo -n`). Default "root". */
  user?: string;
  /**
   * PEM private key (a secret: pass `pulumi.secret(...)` or a secret config value). It is an input of every
   * step, so it is stored (encrypted) in the stack's state: whoever holds the stack's passphrase can read it.
   * Exactly one of privateKey and agentSocketPath.
   */
  privateKey?: StringInput;
  /** Passphrase of an encrypted private key (a secret). Only with privateKey. */
  privateKeyPassword?: StringInput;
  /**
   * The unix socket of an SSH agent that holds the key (`ssh-agent -a <path>`; `ssh-add`), a fixed absolute
   * path: the key never enters the program or the stack state, only this path does. A preview dials nothing
   * and needs no agent; `up` fails before dialing when no agent listens there, or when it holds no key.
   * Exactly one of privateKey and agentSocketPath.
   */
  agentSocketPath?: string;
  /**
   * The host's key in authorized_keys format (`ssh-ed25519 AAAA…`): every SSH connection requires it to match.
   * One of hostKey, knownHostsFile and hostKeyPolicy: "trust-on-first-use" is required (README: "SSH host key").
   */
  hostKey?: string;
  /** A known_hosts file (read at program time) whose entry for host (`[host]:port` for another port) is pinned as hostKey. */
  knownHostsFile?: string;
  /**
   * "strict" (default): hostKey or knownHostsFile pins the key. "trust-on-first-use" (explicit, logged): a
   * `<name>-host-key` step accepts the key the host offers on its first run, warns with its fingerprint and
   * records it in the stack's state; every step then requires that key.
   */
  hostKeyPolicy?: "strict" | "trust-on-first-use";
  /** Optional bastion host. */
  bastion?: QuayHostBastionArgs;
  /** Dial attempts per step before failing. Default 10 (the wait-for-ssh step allows enough for bootTimeoutSeconds). */
  dialErrorLimit?: number;
  /** Seconds per dial attempt. Default 15. */
  perDialTimeout?: number;
}

/** Quay's blob storage: RadosGWStorage pointed at a MinIO (or Ceph RGW) bucket. */
export interface QuayHostStorageArgs {
  /** MinIO host name or IP address (no scheme). */
  hostname: string;
  /** MinIO port. Default 9000. */
  port?: number;
  /** Bucket name, e.g. quay-storage. */
  bucket: string;
  /** Access key of the storage user (may be a secret). */
  accessKey: StringInput;
  /** Secret key of the storage user (a secret; any characters: it only travels inside config.yaml). */
  secretKey: StringInput;
  /** Use HTTPS to MinIO. Default false (plain HTTP on the private service network, as in the lab). */
  isSecure?: boolean;
  /** Key prefix inside the bucket. Default /datastorage/registry. */
  storagePath?: string;
  /** S3 signature version. Default v4. */
  signatureVersion?: "v4" | "v2";
  /** Region name, when the endpoint needs one. */
  regionName?: string;
  /**
   * RadosGWStorage's `server_side_assembly`. Default true (Quay's default): a blob pushed in one chunk (skopeo,
   * podman, oc-mirror) is copied server-side. Quay's driver fails at finalize (InvalidRange on UploadPartCopy)
   * for a blob pushed in two or more PATCH chunks of 5 MiB or more; set false when clients push that way
   * (Quay then joins the chunks itself: slower, more traffic between Quay and MinIO). README "Chunked uploads".
   */
  serverSideAssembly?: boolean;
  /**
   * Redirect blob downloads to MinIO (302 to a presigned http(s)://<hostname>:<port>/… URL): clients then need a
   * direct path to MinIO. Default false: FEATURE_PROXY_STORAGE, downloads go through Quay (and the TLS proxy).
   */
  directDownloads?: boolean;
}

/** Where the sign-in path mints the bootstrap token when the initialize token is lost. */
export interface QuayHostBootstrapArgs {
  /** Organization owning the OAuth application the sign-in path mints with. Default quay-mirror-bootstrap. */
  organization?: string;
  /** OAuth application name in that organization. Default quay-mirror-bootstrap. */
  application?: string;
  /**
   * Bump to mint a fresh bootstrap token (the initialize step is replaced and takes the sign-in path).
   * Needed only when the 2.5 h token expired before the long-lived ApiToken was created. Default 0.
   */
  renew?: number;
}

/** Local tools uploaded to the host with CopyToRemote. */
export interface QuayHostToolsArgs {
  /**
   * Local path of a MinIO client (`mc`) binary for the host's architecture (Debian has no package). Installed
   * at /usr/local/lib/quay-mirror/bin/mc; the storage preflight and QuayBackups use it.
   */
  mcBinary: string;
}

export interface QuayHostArgs {
  /** SSH connection to the Quay VM. */
  connection: QuayHostConnectionArgs;
  /** Quay's SERVER_HOSTNAME: the name clients use through the TLS proxy (no scheme), e.g. quay.example.com. */
  serverHostname: string;
  /** Quay image tag, ≥ v3.18 (token minting through the API). Default v3.18.0. Changing it upgrades in place. */
  quayVersion?: string;
  /** Image to pull instead of quay.io/projectquay/quay:<quayVersion> (e.g. from a mirror). Excludes imageArchive. */
  quayImage?: string;
  /** Local path of a `podman save`/`docker save` archive to upload and load (air-gapped hosts). Excludes quayImage. */
  imageArchive?: string;
  /**
   * The only address (or CIDR network) allowed to reach Quay's port 8080: the TLS proxy. Admitted only once the
   * first superuser exists (the expose step, after initialize). Networks wider than IPv4 /16 or IPv6 /48 are
   * refused unless allowWideProxyNetwork.
   */
  proxyAddress: string;
  /** Accept a proxyAddress network wider than IPv4 /16 or IPv6 /48 (all of it may reach Quay's 8080). Default false. */
  allowWideProxyNetwork?: boolean;
  /** Blob storage (RadosGW-on-MinIO). */
  storage: QuayHostStorageArgs;
  /** The first superuser, created through /api/v1/user/initialize and listed in SUPER_USERS. Default quayadmin. */
  superuserName?: string;
  /** The superuser's email (required only if extraConfig turns FEATURE_MAILING on). */
  superuserEmail?: string;
  /** Sets FEATURE_PROXY_CACHE: true when the registry model declares proxy-cache organizations. Default false. */
  proxyCache?: boolean;
  /**
   * Extra config.yaml keys on top of the lab's: known keys are type-checked, unknown UPPER_CASE keys are
   * allowed if JSON-serializable. Keys the component owns (DB_URI, storage, secrets, SERVER_HOSTNAME…) are
   * rejected, and no key can be unset.
   */
  extraConfig?: Record<string, unknown>;
  /**
   * Security-posture keys (config/quay-posture.ts: FEATURE_USER_CREATION, FEATURE_ANONYMOUS_ACCESS,
   * CREATE_PRIVATE_REPO_ON_PUSH) that extraConfig relaxes on purpose. A relaxing
   * overlay without its key here is refused. Default none.
   */
  postureOverrides?: string[];
  /** Local binaries to upload to the host (air-gapped hosts get them like the image archive). */
  tools?: QuayHostToolsArgs;
  /**
   * Before every (re)start of Quay, check the storage: the bucket exists, the storage credentials can write,
   * read and delete a probe object, and the bucket has no lifecycle rule. Needs tools.mcBinary. Default: on
   * when tools.mcBinary is given.
   */
  storagePreflight?: boolean;
  /** On destroy, also delete config, data, database and images. Default false: stop and disable Quay only. */
  purgeOnDestroy?: boolean;
  /** How long the health step waits for /health/instance. Default 600 s. */
  healthTimeoutSeconds?: number;
  /** How long the first step waits for SSH, cloud-init and systemd. Default 900 s. */
  bootTimeoutSeconds?: number;
  /** The sign-in path's organization and application, and the renewal switch. */
  bootstrap?: QuayHostBootstrapArgs;
  /**
   * What generates the passwords and keys: "random" (`random.RandomPassword`, the default) or "node-crypto"
   * (`RandomSecret`, a dynamic resource on Node's crypto, for engines without the `random` plugin). Choose once:
   * switching creates new secrets, and the config step then refuses to replace the DATABASE_SECRET_KEY.
   */
  secretGenerator?: "random" | "node-crypto";
  /**
   * Resources Quay's first start (the unit step) waits for besides the host's own steps: a list, or a promise
   * of one resolved once they are declared. The rebuild from backup passes QuayBackups' restore step, so
   * the database is restored before Quay ever starts. Default none.
   */
  startAfter?: pulumi.Resource[] | Promise<pulumi.Resource[]>;
}

// The interface above is the documented face of the schema in config/quay-host.ts; keep them in step.
type Assignable<A, B> = [A] extends [B] ? true : false;
const argsMatchSchema: Assignable<QuayHostArgs, QuayHostInput> = true;
void argsMatchSchema;

/** The generated secrets' names, with their lengths. Generated once; `ignoreChanges` keeps them forever. */
const GENERATED_SECRETS = {
  postgresPassword: { length: 32, special: false },
  redisPassword: { length: 32, special: false },
  secretKey: { length: 64, special: false },
  databaseSecretKey: { length: 64, special: false },
  superuserPassword: { length: 32, special: true, overrideSpecial: "!#%*+-=?@^_~", minSpecial: 2 },
} as const;

/** The steps, in the order they are declared (and chained). "tools" and "preflight" exist only with tools.mcBinary. */
export const QUAY_HOST_STEPS = ["wait", "packages", "postgres", "redis", "account", "config", "image", "tools", "preflight", "firewall", "unit", "lifecycle", "health", "initialize", "expose"] as const;

export class QuayHost extends pulumi.ComponentResource {
  /** Quay's API on the host itself: http://<host>:8080 (reachable from the proxy address only). */
  public readonly apiUrl: pulumi.Output<string>;
  /** SERVER_HOSTNAME: the name clients use (through the TLS proxy). */
  public readonly registryHostname: pulumi.Output<string>;
  /** The first superuser. */
  public readonly superuserName: pulumi.Output<string>;
  /** The first superuser's generated password (secret). */
  public readonly superuserPassword: pulumi.Output<string>;
  /** A 2.5 h superuser token (all eight scopes) for minting the long-lived ApiToken (secret). */
  public readonly bootstrapToken: pulumi.Output<string>;
  /** SHA-256 of the rendered config.yaml (changes exactly when the config step re-runs). */
  public readonly configSha256: pulumi.Output<string>;
  /** The last step (expose: the proxy may reach Quay from here on): depend on it to use the registry. */
  public readonly ready: pulumi.Resource;
  /** Every step, by name (for dependsOn and tests). */
  public readonly steps: Readonly<Record<string, pulumi.Resource>>;
  /**
   * The SSH connection the steps use (its keys are secret Outputs), for components that also work on this
   * host (backups). Not a registered output.
   */
  public readonly connection: command.types.input.remote.ConnectionArgs;
  /** Where the MinIO client is installed on the host (only with tools.mcBinary). */
  public readonly mcPath?: string;

  constructor(name: string, args: QuayHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("quay-mirror:host:QuayHost", name, {}, opts);
    const s = parseQuayHostArgs(args, `QuayHost "${name}" arguments`);
    const steps: Record<string, pulumi.Resource> = {};
    const child = { parent: this };

    // ---- secrets, generated once ----
    const generated = Object.fromEntries(
      Object.entries(GENERATED_SECRETS).map(([key, spec]) => {
        if (s.secretGenerator === "node-crypto") {
          const alphabet = ALPHANUMERIC + ("overrideSpecial" in spec ? spec.overrideSpecial : "");
          const g = new RandomSecret(`${name}-${kebab(key)}`, { length: spec.length, alphabet }, child);
          return [key, pulumi.secret(g.result)];
        }
        const pw = new random.RandomPassword(`${name}-${kebab(key)}`, { ...spec }, { ...child, ignoreChanges: Object.keys(spec), additionalSecretOutputs: ["result"] });
        return [key, pulumi.secret(pw.result)];
      }),
    ) as Record<keyof typeof GENERATED_SECRETS, pulumi.Output<string>>;

    // ---- connection ----
    const bootDialLimit = Math.max(s.connection.dialErrorLimit, Math.ceil(s.bootTimeoutSeconds / s.connection.perDialTimeout));
    let connection = buildConnection(s);
    if (connection.hostKey === TRUST_ON_FIRST_USE || connection.proxy?.hostKey === TRUST_ON_FIRST_USE) {
      // Trust-on-first-use, opted in: this step's first run accepts the key(s) offered, the command plugin
      // warns with their fingerprints and records them in the step's state; every other step uses the
      // recorded keys, so later runs require them. A new host or port replaces the step (a new first use).
      const which = [connection.hostKey === TRUST_ON_FIRST_USE && "the host", connection.proxy?.hostKey === TRUST_ON_FIRST_USE && "the bastion"].filter(Boolean).join(" and ");
      pulumi.log.warn(
        `QuayHost "${name}": hostKeyPolicy ${TRUST_ON_FIRST_USE}: the key ${which} offers on first contact is trusted without verification and pinned in the stack (step ${name}-host-key); check the fingerprint the command plugin logs against the VM's console and pin it with hostKey`,
        this,
      );
      const recorder = new command.remote.Command(
        `${name}-host-key`,
        {
          connection: { ...connection, dialErrorLimit: bootDialLimit },
          create: "true",
          triggers: [connection.host, connection.port, connection.proxy?.host ?? "", connection.proxy?.port ?? 0],
          logging: "none",
          addPreviousOutputInEnv: false,
        },
        child,
      );
      steps["host-key"] = recorder;
      connection = withRecordedHostKeys(connection, recorder);
    }
    const waitConnection = { ...connection, dialErrorLimit: bootDialLimit };
    const sudo = s.connection.user !== "root";

    const step = (
      stepName: string,
      template: StepTemplate,
      values: pulumi.Input<Record<string, StepValue>>,
      o: { dependsOn: pulumi.Input<pulumi.Resource[]>; stdin?: pulumi.Input<string>; secretOutput?: boolean; asRoot?: boolean; triggers?: unknown[]; conn?: typeof connection },
    ) => {
      const create = pulumi.output(values).apply((v) => sshCommand(renderStep(template, v as Record<string, StepValue>), { sudo: sudo && o.asRoot !== false, label: stepName }));
      const cmd = new command.remote.Command(
        `${name}-${stepName}`,
        {
          connection: o.conn ?? connection,
          create,
          ...(o.stdin !== undefined ? { stdin: o.stdin } : {}),
          ...(o.triggers !== undefined ? { triggers: o.triggers } : {}),
          logging: o.secretOutput ? "none" : "stdoutAndStderr",
          addPreviousOutputInEnv: false,
        },
        { ...child, dependsOn: o.dependsOn, ...(o.secretOutput ? { additionalSecretOutputs: ["stdout", "stderr"] } : {}) },
      );
      steps[stepName] = cmd;
      return cmd;
    };

    // 1. SSH, cloud-init, systemd; the private upload directory.
    const wait = step("wait", "wait-for-ssh", { BOOT_TIMEOUT: s.bootTimeoutSeconds, UPLOAD_DIR }, { dependsOn: [], conn: waitConnection });

    // 2. packages (+ podman cgroups drop-in where needed).
    const packages = step("packages", "packages", { PACKAGES: [...APT_PACKAGES], DROPIN_PATH: PODMAN_CGROUPS_DROPIN_PATH, DROPIN_CONTENT: PODMAN_CGROUPS_DROPIN }, { dependsOn: [wait] });

    // 3. PostgreSQL; 4. Redis. Passwords on stdin.
    const postgres = step("postgres", "postgres", { PG_PORT: POSTGRES_PORT }, { dependsOn: [packages], stdin: generated.postgresPassword, secretOutput: true });
    const redis = step(
      "redis",
      "redis",
      { MAIN_CONF: "/etc/redis/redis.conf", INCLUDE_CONF: "/etc/redis/quay-mirror.conf", REDIS_PORT },
      { dependsOn: [packages], stdin: generated.redisPassword, secretOutput: true },
    );

    // 4a. UID 1001 (Quay's container user, a host UID: rootful podman, no user namespace) reserved for a
    // no-login system account, so no login user can ever read config.yaml through its ACL.
    const account = step("account", "account", { CONTAINER_UID: QUAY_CONTAINER_UID, CONTAINER_USER: QUAY_CONTAINER_USER }, { dependsOn: [wait] });

    // 5. config.yaml on stdin; its hash in the script (a hash of high-entropy secrets reveals none of them).
    const configYaml = pulumi.secret(
      pulumi
        .all([generated.postgresPassword, generated.redisPassword, generated.secretKey, generated.databaseSecretKey, pulumi.output(s.storage.accessKey), pulumi.output(s.storage.secretKey)])
        .apply(([postgresPassword, redisPassword, secretKey, databaseSecretKey, accessKey, secretKeyStorage]) =>
          serializeQuayConfig(
            renderQuayConfig({
              serverHostname: s.serverHostname,
              superuserName: s.superuserName,
              proxyCache: s.proxyCache,
              storage: { ...s.storage, accessKey, secretKey: secretKeyStorage },
              secrets: { postgresPassword, redisPassword, secretKey, databaseSecretKey },
              extraConfig: s.extraConfig,
            }),
          ),
        ),
    );
    const configSha256 = pulumi.unsecret(configYaml.apply((y) => sha256Hex(y)));
    const config = step(
      "config",
      "config",
      configSha256.apply((sha) => ({ CONFIG_DIR: QUAY_CONFIG_DIR, STORAGE_DIR: QUAY_STORAGE_DIR, CONTAINER_UID: QUAY_CONTAINER_UID, CONFIG_SHA256: sha })),
      { dependsOn: [account, packages], stdin: configYaml, secretOutput: true },
    );

    // 6. the image: pulled, or uploaded (CopyToRemote) and loaded.
    let source: ImageSource;
    const imageDeps: pulumi.Resource[] = [packages];
    if (s.imageArchive !== undefined) {
      const file = path.resolve(s.imageArchive);
      if (!fs.existsSync(file) || !fs.statSync(file).isFile()) {
        throw new QuayHostConfigError([{ path: "$.imageArchive", message: `no such file: ${file} — fix: build or copy the archive there (podman save -o ${file} <image>)` }], `QuayHost "${name}" arguments`);
      }
      const sha = sha256File(file);
      source = { kind: "archive", sha256: sha, remotePath: archiveRemotePath(sha) };
      const upload = new command.remote.CopyToRemote(`${name}-image-archive`, { connection, source: new pulumi.asset.FileAsset(file), remotePath: source.remotePath }, { ...child, dependsOn: [wait] });
      steps["image-archive"] = upload;
      imageDeps.push(upload);
    } else {
      source = { kind: "pull", reference: s.quayImage ?? defaultQuayImage(s.quayVersion) };
    }
    const localRef = localImageRef(s.quayVersion, source);
    const image = step(
      "image",
      "image",
      { MODE: source.kind, SOURCE: source.kind === "pull" ? source.reference : source.remotePath, LOCAL_REF: localRef, SHA256: source.kind === "archive" ? source.sha256 : "" },
      { dependsOn: imageDeps },
    );

    // 6a. the MinIO client (uploaded, checked, installed) and 6b. the storage preflight, which runs before every
    // (re)start of Quay: the deployment fingerprint is in its script. The storage keys arrive on stdin.
    const unitText = renderQuayUnit({ image: localRef });
    const deployment = configSha256.apply((sha) => sha256Hex(`${unitText}\n${sha}\n${localRef}`));
    const unitDeps: pulumi.Resource[] = [postgres, redis, config];
    let mcPath: string | undefined;
    if (s.tools?.mcBinary !== undefined) {
      const file = path.resolve(s.tools.mcBinary);
      if (!fs.existsSync(file) || !fs.statSync(file).isFile()) {
        throw new QuayHostConfigError([{ path: "$.tools.mcBinary", message: `no such file: ${file} — fix: point it at a MinIO client binary (scripts/install-tools.sh builds one)` }], `QuayHost "${name}" arguments`);
      }
      const sha = sha256File(file);
      const upload = new command.remote.CopyToRemote(`${name}-mc-binary`, { connection, source: new pulumi.asset.FileAsset(file), remotePath: mcUploadPath(sha) }, { ...child, dependsOn: [wait] });
      steps["mc-binary"] = upload;
      const tools = step("tools", "tools", { UPLOAD: mcUploadPath(sha), TARGET: MC_REMOTE_PATH, SHA256: sha }, { dependsOn: [wait, upload] });
      mcPath = MC_REMOTE_PATH;
      if (s.storagePreflight ?? true) {
        const storageCredentials = pulumi.secret(
          pulumi.all([pulumi.output(s.storage.accessKey), pulumi.output(s.storage.secretKey)]).apply(([accessKey, secretKey]) => JSON.stringify({ accessKey, secretKey })),
        );
        const preflight = step(
          "preflight",
          "preflight",
          deployment.apply((fp) => ({ MC: MC_REMOTE_PATH, ENDPOINT: storageEndpoint(s.storage), BUCKET: s.storage.bucket, PROBE_PREFIX: PREFLIGHT_PROBE_PREFIX, DEPLOYMENT: fp })),
          // its output names what is wrong and never carries a key: logged, so a refusal is readable in `up`
          { dependsOn: [packages, config, tools], stdin: storageCredentials },
        );
        unitDeps.push(preflight);
      }
    }

    // 6c. UFW on before Quay ever starts. /api/v1/user/initialize needs no authentication (first caller wins), so
    // 8080 stays closed to everyone but this host until the first superuser exists: the proxy is admitted by
    // the expose step after initialize, or here on a host whose marker says initialize succeeded before.
    const firewallValues = (open: boolean) => ({ SSH_PORT: s.connection.port, QUAY_PORT: QUAY_HTTP_PORT, PROXY_ADDRESS: s.proxyAddress, MARKER: INITIALIZED_MARKER, OPEN: open });
    const firewall = step("firewall", "firewall", firewallValues(false), { dependsOn: [packages] });

    // 7. quay.service; restart when unit, config or image changed. Never before the firewall is on.
    const unit = step(
      "unit",
      "unit",
      deployment.apply((fp) => ({ UNIT_PATH: QUAY_UNIT_PATH, UNIT_CONTENT: unitText, FINGERPRINT: fp, STATE_FILE: "/var/lib/quay/.quay-mirror-deployment" })),
      {
        dependsOn:
          s.startAfter === undefined
            ? [...unitDeps, image, firewall]
            : Promise.resolve(s.startAfter).then((extra) => [...unitDeps, image, firewall, ...extra]),
      },
    );

    // Destroy hook: its `create` does nothing; its `delete` stops Quay (and purges when asked). It depends on
    // the unit, so destroy runs it before anything else of the host goes.
    const destroyScript = sshCommand(
      renderStep("destroy", {
        PURGE: s.purgeOnDestroy,
        UNIT_PATH: QUAY_UNIT_PATH,
        CONFIG_DIR: QUAY_CONFIG_DIR,
        QUAY_VAR_DIR: "/var/lib/quay",
        UPLOAD_DIR,
        LOCAL_REPOSITORY: LOCAL_IMAGE_REPOSITORY,
      }),
      { sudo, label: "destroy" },
    );
    steps.lifecycle = new command.remote.Command(
      `${name}-lifecycle`,
      { connection, create: "true", delete: destroyScript, logging: "stdoutAndStderr", addPreviousOutputInEnv: false },
      { ...child, dependsOn: [unit] },
    );

    // 9. health, re-run after every restart (same fingerprint as the unit step).
    const health = step(
      "health",
      "health",
      deployment.apply((fp) => ({ URL: `http://127.0.0.1:${QUAY_HTTP_PORT}/health/instance`, TIMEOUT: s.healthTimeoutSeconds, INTERVAL: 5, DEPLOYMENT: fp })),
      { dependsOn: [unit], asRoot: false },
    );

    // 10. first superuser + bootstrap token (stdout is the token: secret, never logged).
    const credentials = pulumi.secret(
      generated.superuserPassword.apply((password) => JSON.stringify({ username: s.superuserName, password, ...(s.superuserEmail !== undefined ? { email: s.superuserEmail } : {}) })),
    );
    const initialize = step(
      "initialize",
      "initialize",
      {
        BASE_URL: `http://127.0.0.1:${QUAY_HTTP_PORT}`,
        ORGANIZATION: s.bootstrap.organization,
        APPLICATION: s.bootstrap.application,
        TOKEN_NAME: "quay-mirror bootstrap",
        TOKEN_SCOPE: BOOTSTRAP_TOKEN_SCOPE,
        TOKEN_LIFETIME: BOOTSTRAP_TOKEN_LIFETIME_SECONDS,
      },
      { dependsOn: [health], stdin: credentials, secretOutput: true, asRoot: false, triggers: [s.bootstrap.renew] },
    );

    // 11. the first superuser exists: admit the proxy to 8080 (and record it for later firewall runs).
    const expose = step("expose", "firewall", firewallValues(true), { dependsOn: [initialize] });

    this.apiUrl = pulumi.interpolate`http://${connection.host}:${QUAY_HTTP_PORT}`;
    this.registryHostname = pulumi.output(s.serverHostname);
    this.superuserName = pulumi.output(s.superuserName);
    this.superuserPassword = generated.superuserPassword;
    // The token is of use only through the proxy, so whoever takes it also waits for the expose step.
    this.bootstrapToken = pulumi.secret(pulumi.all([initialize.stdout, expose.id]).apply(([out]) => out.trim()));
    this.configSha256 = configSha256;
    this.ready = expose;
    this.steps = steps;
    this.connection = connection;
    this.mcPath = mcPath;

    this.registerOutputs({
      apiUrl: this.apiUrl,
      registryHostname: this.registryHostname,
      superuserName: this.superuserName,
      superuserPassword: this.superuserPassword,
      bootstrapToken: this.bootstrapToken,
      configSha256: this.configSha256,
    });
  }
}

function kebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

type Connection = {
  host: pulumi.Input<string>;
  port: number;
  user: string;
  privateKey?: pulumi.Output<string>;
  privateKeyPassword?: pulumi.Output<string>;
  agentSocketPath?: string;
  hostKey: pulumi.Input<string>;
  dialErrorLimit: number;
  perDialTimeout: number;
  proxy?: {
    host: string;
    port: number;
    user: string;
    privateKey?: pulumi.Output<string>;
    agentSocketPath?: string;
    hostKey: pulumi.Input<string>;
    dialErrorLimit: number;
    perDialTimeout: number;
  };
};

/** pulumi-command's ConnectionArgs: only defined fields (unknown or malformed ones make the engine print secrets). LoadBalancer uses it too. */
export function buildConnection(s: Pick<QuayHostSettings, "connection">): Connection {
  const c = s.connection;
  const host = pulumi.Output.isInstance(c.host) ? checkLater(c.host, lateRules.host, ["connection", "host"]) : c.host;
  // Exactly one of the key and the agent (the schema refused both and neither). With the agent, only its
  // socket's path is an input: the key is neither in the program nor in the state.
  const auth: { privateKey: pulumi.Output<string> } | { agentSocketPath: string } =
    c.agentSocketPath !== undefined
      ? { agentSocketPath: c.agentSocketPath }
      : { privateKey: pulumi.secret(pulumi.Output.isInstance(c.privateKey) ? checkLater(c.privateKey, lateRules.privateKey, ["connection", "privateKey"]) : c.privateKey!) };
  // Always pinned (or the explicit trust-on-first-use marker): the schema refused settings without either.
  const hostKey = resolveHostKey(c, host, c.port, ["connection"]);
  const conn: Connection = { host, port: c.port, user: c.user, ...auth, hostKey, dialErrorLimit: c.dialErrorLimit, perDialTimeout: c.perDialTimeout };
  if (c.privateKeyPassword !== undefined && "privateKey" in auth) conn.privateKeyPassword = pulumi.secret(pulumi.output(c.privateKeyPassword));
  if (c.bastion !== undefined) {
    const b = c.bastion;
    const bastionAuth =
      b.privateKey !== undefined ? { privateKey: pulumi.secret(pulumi.output(b.privateKey)) } : b.agentSocketPath !== undefined ? { agentSocketPath: b.agentSocketPath } : auth;
    conn.proxy = {
      host: b.host,
      port: b.port,
      user: b.user,
      ...bastionAuth,
      hostKey: resolveHostKey(b, b.host, b.port, ["connection", "bastion"]),
      dialErrorLimit: c.dialErrorLimit,
      perDialTimeout: c.perDialTimeout,
    };
  }
  return conn;
}

/** conn with the keys the trust-on-first-use step recorded in place of the marker. */
function withRecordedHostKeys(conn: Connection, recorder: command.remote.Command): Connection {
  const recorded = (pick: (c: command.types.output.remote.Connection) => string | undefined, what: string) =>
    recorder.connection.apply((c) => {
      const key = pick(c);
      if (key === TRUST_ON_FIRST_USE) throw new Error(`the ${what} key was not recorded by the trust-on-first-use step (the real pulumi-command cannot do trust-on-first-use: use quay-mirror's own command plugin, built by scripts/install-pulumi.sh, or pin hostKey)`);
      return key ?? "";
    });
  const out: Connection = { ...conn };
  if (conn.hostKey === TRUST_ON_FIRST_USE) out.hostKey = recorded((c) => c.hostKey, "host's");
  if (conn.proxy && conn.proxy.hostKey === TRUST_ON_FIRST_USE) out.proxy = { ...conn.proxy, hostKey: recorded((c) => c.proxy?.hostKey, "bastion's") };
  return out;
}
