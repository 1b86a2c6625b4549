// The steps that talk to Quay's HTTP API, run for real with bash, curl and jq against a local stand-in:
// the health wait, and initialize with its sign-in re-run path.
import { BOOTSTRAP_TOKEN_LIFETIME_SECONDS, BOOTSTRAP_TOKEN_SCOPE, renderStep } from "../../components/quay-host/render";
import { FakeQuay, startFakeQuay } from "./fake-quay";
import { bashAsync } from "./samples";

function initializeScript(baseUrl: string): string {
  return renderStep("initialize", {
    BASE_URL: baseUrl,
    ORGANIZATION: "quay-mirror-bootstrap",
    APPLICATION: "quay-mirror-bootstrap",
    TOKEN_NAME: "quay-mirror bootstrap",
    TOKEN_SCOPE: BOOTSTRAP_TOKEN_SCOPE,
    TOKEN_LIFETIME: BOOTSTRAP_TOKEN_LIFETIME_SECONDS,
  });
}

// What a generated superuser password can contain (no whitespace: Quay refuses it), plus shell bait.
const PASSWORD = `p'a"s$(touch\${IFS}PWNED)\`x\`;&&|*?~-\\!#%^=+@`;
const credentials = (password = PASSWORD) => JSON.stringify({ username: "quayadmin", password });

describe("initialize step", () => {
  let quay: FakeQuay;
  beforeEach(async () => {
    quay = await startFakeQuay();
  });
  afterEach(() => quay.close());

  test("a fresh Quay: initialize with access_token, the password arrives unchanged, only the token is printed", async () => {
    const r = await bashAsync(initializeScript(quay.url), { input: credentials() });
    expect(r.stderr).toContain("initialized superuser quayadmin");
    expect(r.status).toBe(0);
    const token = r.stdout.trim();
    expect(r.stdout).toBe(`${token}\n`);
    expect(quay.tokens.get(token)?.user).toBe("quayadmin");
    expect(quay.users.get("quayadmin")?.password).toBe(PASSWORD);
    const init = quay.requests.find((q) => q.path === "/api/v1/user/initialize")!;
    expect(JSON.parse(init.body)).toEqual({ username: "quayadmin", password: PASSWORD, access_token: true });
    expect(r.stderr).not.toContain(PASSWORD);
  });

  test("a re-run after initialize (token lost): signs in with session + CSRF and mints a working superuser token", async () => {
    const first = await bashAsync(initializeScript(quay.url), { input: credentials() });
    expect(first.status).toBe(0);
    quay.requests.length = 0;

    const second = await bashAsync(initializeScript(quay.url), { input: credentials() });
    expect(second.stderr).toContain("signing in as quayadmin");
    expect(second.status).toBe(0);
    const token = second.stdout.trim();
    expect(token).not.toBe(first.stdout.trim());
    expect(quay.tokens.get(token)).toEqual({ user: "quayadmin", scope: BOOTSTRAP_TOKEN_SCOPE.split(" ") });
    expect(quay.requests.map((q) => `${q.method} ${q.path}`)).toEqual([
      "POST /api/v1/user/initialize",
      "GET /csrf_token",
      "POST /api/v1/signin",
      "GET /csrf_token",
      "GET /api/v1/organization/quay-mirror-bootstrap",
      "POST /api/v1/organization/",
      "GET /api/v1/organization/quay-mirror-bootstrap/applications",
      "POST /api/v1/organization/quay-mirror-bootstrap/applications",
      `POST /api/v1/organization/quay-mirror-bootstrap/applications/${quay.apps[0]!.clientId}/tokens`,
      "GET /api/v1/user/",
    ]);
    const mint = JSON.parse(quay.requests[8]!.body);
    expect(mint).toEqual({ name: "quay-mirror bootstrap", scope: BOOTSTRAP_TOKEN_SCOPE, expiration: BOOTSTRAP_TOKEN_LIFETIME_SECONDS });
    // the client secret the application listing returns is never printed
    expect(second.stdout + second.stderr).not.toContain("CLIENT-SECRET");

    // a third run reuses the organization and the application
    const third = await bashAsync(initializeScript(quay.url), { input: credentials() });
    expect(third.status).toBe(0);
    expect(quay.apps).toHaveLength(1);
    expect(quay.orgs.size).toBe(1);
  });

  test("a registry initialized by someone else: fails with what to do, and never prints the password", async () => {
    await bashAsync(initializeScript(quay.url), { input: credentials("another-stacks-password") });
    const r = await bashAsync(initializeScript(quay.url), { input: credentials() });
    expect(r.status).not.toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/sign-in as quayadmin refused \(Invalid Username or Password\).*Reset quayadmin's password/s);
    expect(r.stderr).not.toContain(PASSWORD);
    expect(r.stderr).not.toContain("another-stacks-password");
  });

  test("a superuser missing from SUPER_USERS is caught", async () => {
    quay.superUsers = [];
    const r = await bashAsync(initializeScript(quay.url), { input: credentials() });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/quayadmin is not a superuser: SUPER_USERS/);
    expect(r.stdout).toBe("");
  });

  test("bad stdin and an unreachable Quay fail clearly", async () => {
    const bad = await bashAsync(initializeScript(quay.url), { input: "not json" });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/stdin must be a JSON object/);
    const down = await bashAsync(initializeScript("http://127.0.0.1:9"), { input: credentials() });
    expect(down.status).not.toBe(0);
    expect(down.stderr).toMatch(/no answer from Quay at http:\/\/127.0.0.1:9/);
  });
});

describe("health step", () => {
  test("prints what it waits for, the attempt number, elapsed seconds of the timeout and what is failing until Quay is healthy", async () => {
    const quay = await startFakeQuay({ healthSequence: [503, 503, 200] });
    try {
      const url = `${quay.url}/health/instance`;
      const r = await bashAsync(renderStep("health", { URL: url, TIMEOUT: 60, INTERVAL: 0, DEPLOYMENT: "d".repeat(64) }));
      expect(r.status).toBe(0);
      const lines = r.stdout.trim().split("\n");
      const at = (n: number) => `^attempt ${n}, \\d+s of 60s: ${url.replace(/[.]/g, "\\.")} `;
      expect(lines[0]).toMatch(/^waiting up to 60s for http:\/\/127\.0\.0\.1:\d+\/health\/instance \(deployment dddddddddddd…\)$/);
      expect(lines[1]).toMatch(new RegExp(`${at(1)}HTTP 503, failing: database,web_gunicorn; quay\\.service `));
      expect(lines[2]).toMatch(new RegExp(`${at(2)}HTTP 503`));
      expect(lines[3]).toMatch(new RegExp(`${at(3)}healthy \\(HTTP 200\\)$`));
      expect(lines).toHaveLength(4);
    } finally {
      await quay.close();
    }
  });

  test("gives up at the timeout (not an interval later) with the attempts, the last answer and where to look", async () => {
    const r = await bashAsync(renderStep("health", { URL: "http://127.0.0.1:9/health/instance", TIMEOUT: 2, INTERVAL: 5, DEPLOYMENT: "e".repeat(64) }));
    expect(r.status).toBe(1);
    const lines = r.stdout.trim().split("\n");
    // a loaded machine may start the script a second late; what matters is that the last attempt is at the
    // timeout (2 s), not an interval (5 s) later
    expect(lines[1]).toMatch(/^attempt 1, [01]s of 2s: http:\/\/127\.0\.0\.1:9\/health\/instance HTTP 000; quay\.service /);
    expect(lines[2]).toMatch(/^attempt 2, [23]s of 2s: /);
    expect(lines).toHaveLength(3);
    expect(r.stderr).toMatch(/did not become healthy within 2s \(2 attempts at http:\/\/127\.0\.0\.1:9\/health\/instance; last: HTTP 000; quay\.service [^)]*\)\. Look at: sudo journalctl -u quay\.service/);
  });
});
