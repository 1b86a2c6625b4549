// npm run --silent quay-emulator -- --port <port> --config <config.yaml> [--latency-ms N] [--max-concurrent N]
// Prints the URL it listens on (one line) and runs until SIGINT/SIGTERM.
import { loadConfigFile } from "./config";
import { startQuayEmulator } from "./index";

function usage(msg?: string): never {
  if (msg) process.stderr.write(`quay-emulator: ${msg}\n`);
  process.stderr.write(
    "usage: quay-emulator [--port N] [--host 127.0.0.1] [--config config.yaml] [--latency-ms N] [--max-concurrent N] [--org-name-lock-ms N] [--seed N]\n",
  );
  process.exit(2);
}

async function main(argv: string[]): Promise<void> {
  const opts: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--help" || a === "-h") usage();
    if (!a.startsWith("--")) usage(`unexpected argument ${a}`);
    const eq = a.indexOf("=");
    if (eq > 0) opts[a.slice(2, eq)] = a.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) usage(`missing value for ${a}`);
      opts[a.slice(2)] = argv[++i];
    }
  }
  const num = (k: string): number | undefined => {
    if (opts[k] === undefined) return undefined;
    const n = Number(opts[k]);
    if (!Number.isFinite(n) || n < 0) usage(`--${k} must be a non-negative number`);
    return n;
  };
  const known = ["port", "host", "config", "latency-ms", "max-concurrent", "org-name-lock-ms", "seed"];
  for (const k of Object.keys(opts)) if (!known.includes(k)) usage(`unknown option --${k}`);
  const host = opts.host ?? "127.0.0.1";
  if (host !== "127.0.0.1" && host !== "localhost" && host !== "::1") usage("the emulator only listens on loopback");
  const emu = await startQuayEmulator({
    config: opts.config ? loadConfigFile(opts.config) : undefined,
    host,
    port: num("port") ?? 0,
    latencyMs: num("latency-ms"),
    maxConcurrent: num("max-concurrent"),
    orgNameLockMs: num("org-name-lock-ms"),
    seed: num("seed"),
  });
  process.stdout.write(emu.url + "\n");
  let closing = false;
  const stop = () => {
    if (closing) return;
    closing = true;
    emu.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main(process.argv.slice(2)).catch((e) => {
  process.stderr.write(`quay-emulator: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
