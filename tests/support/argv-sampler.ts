// Watches every process's command line, to prove that no secret is ever an argument: a small Perl program
// (Debian's perl-base is always installed, here and on a test host) scans /proc/<pid>/cmdline every few
// milliseconds and records each distinct (uid, command line) once, until it is told to stop. The same program
// runs on this machine (where the engine, node and ssh run) and on a test host (where the remote commands
// run). Each sampler comes with a control: a process that lives ~50 ms with a canary on its command line must
// be seen, so an empty answer means something (a `ps` every 100 ms misses such a process about half the time).
import { spawn, ChildProcess } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { TestHost } from "./testhost";

/** Pause between scans, in seconds. */
export const SAMPLE_INTERVAL_S = 0.003;

/**
 * perl - OUT [--die-with-parent]: appends "uid<TAB>command line" per distinct pair, then "#scans<TAB>N" when
 * stopped (TERM/INT), when its parent is gone (with --die-with-parent) or after an hour at most.
 */
export const ARGV_SAMPLER_PL = `use strict; use warnings;
my ($out, $flag) = @ARGV;
my ($parent, $deadline) = (getppid(), time() + 3600);
open(my $fh, '>>', $out) or die "$out: $!";
select((select($fh), $| = 1)[0]);
my ($stop, $scans, %seen) = (0, 0);
$SIG{TERM} = $SIG{INT} = sub { $stop = 1 };
while (!$stop && time() < $deadline && !(defined $flag && getppid() != $parent)) {
  opendir(my $d, '/proc') or die "/proc: $!";
  while (defined(my $p = readdir $d)) {
    next unless $p =~ /^\\d+$/;
    open(my $f, '<', "/proc/$p/cmdline") or next;
    my $c = do { local $/; <$f> };
    close $f;
    next unless defined $c && length $c;
    my $uid = (stat "/proc/$p")[4];
    $uid = -1 unless defined $uid;
    next if $seen{"$uid\\t$c"}++;
    $c =~ s/\\0+$//;
    $c =~ tr/\\0\\n/  /;
    print $fh "$uid\\t$c\\n";
  }
  closedir $d;
  $scans++;
  select(undef, undef, undef, ${SAMPLE_INTERVAL_S});
}
print $fh "#scans\\t$scans\\n";
close $fh;
`;

export interface ArgvSample {
  uid: number;
  cmdline: string;
}
export interface ArgvSamples {
  samples: ArgvSample[];
  /** How many full scans of /proc ran. */
  scans: number;
}

function parse(text: string): ArgvSamples {
  const samples: ArgvSample[] = [];
  let scans = -1;
  for (const line of text.split("\n")) {
    if (!line) continue;
    const tab = line.indexOf("\t");
    const head = line.slice(0, tab);
    if (head === "#scans") scans = Number(line.slice(tab + 1));
    else samples.push({ uid: Number(head), cmdline: line.slice(tab + 1) });
  }
  if (scans < 0) throw new Error("the argv sampler did not finish (no #scans line)");
  return { samples, scans };
}

/** The samples whose command line holds any of the secrets (named by index, never printed). */
export function argvHits(s: ArgvSamples, secrets: string[]): string[] {
  const hits: string[] = [];
  for (const x of s.samples) {
    secrets.forEach((secret, i) => {
      if (secret && x.cmdline.includes(secret)) hits.push(`uid ${x.uid}: ${x.cmdline.split(" ")[0]} … holds secret #${i}`);
    });
  }
  return hits;
}

export interface ArgvSampler {
  /** Stops sampling and returns what was seen. */
  stop(): Promise<ArgvSamples>;
}

/** Samples this machine's processes. */
export function startLocalArgvSampler(): ArgvSampler {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "qm-argv-"));
  const out = path.join(dir, "samples");
  const child: ChildProcess = spawn("perl", ["-e", ARGV_SAMPLER_PL, out, "--die-with-parent"], { stdio: "ignore" });
  return {
    async stop() {
      const exited = new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once("exit", () => resolve())));
      child.kill("SIGTERM");
      await exited;
      try {
        return parse(fs.existsSync(out) ? fs.readFileSync(out, "utf8") : "");
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Samples a test host's processes (as root), from now until stop(). */
export async function startGuestArgvSampler(host: TestHost): Promise<ArgvSampler> {
  const base = `/var/tmp/qm-argv-${crypto.randomBytes(4).toString("hex")}`;
  await host.sshOk(`sudo tee ${base}.pl >/dev/null`, { stdin: ARGV_SAMPLER_PL });
  await host.sshOk(`sudo sh -c 'nohup perl ${base}.pl ${base}.log >/dev/null 2>&1 & echo $! > ${base}.pid'`);
  // running before anything else happens
  for (let i = 0; i < 50 && (await host.ssh(`sudo test -s ${base}.log`)).code !== 0; i++) await new Promise((r) => setTimeout(r, 100));
  return {
    async stop() {
      await host.sshOk(`sudo sh -c 'kill -TERM "$(cat ${base}.pid)"; for i in $(seq 100); do grep -q "^#scans" ${base}.log && break; sleep 0.1; done'`);
      const text = await host.sshOk(`sudo cat ${base}.log && sudo rm -f ${base}.pl ${base}.log ${base}.pid`);
      return parse(text);
    },
  };
}

/**
 * The control: three processes, each living ~50 ms with a canary on its command line, run here or on the host
 * while the sampler runs; returns the canaries, which the caller expects the sampler to have seen all three.
 * The canaries are made inside the loop ("…-$i-<random>"), so no longer-lived parent (the loop's shell, ssh)
 * carries them: only the 50 ms processes do.
 */
export async function runArgvCanary(where: { host?: TestHost } = {}): Promise<string[]> {
  const tag = `argv-canary-${crypto.randomBytes(8).toString("hex")}`;
  const loop = `for i in 1 2 3; do sh -c 'sleep 0.05; true' "${tag}-$i"; done`;
  if (where.host) {
    await where.host.sshOk(loop);
  } else {
    await new Promise<void>((resolve, reject) => {
      const p = spawn("sh", ["-c", loop], { stdio: "ignore" });
      p.once("error", reject);
      p.once("exit", () => resolve());
    });
  }
  return [1, 2, 3].map((i) => `${tag}-${i}`);
}
