// The stand-in Quay inside the test image: the fake of tests/quay-host/fake-quay.ts on port 8080, after
// proving the container user can read the mounted config.yaml. Like Quay (whose users live in
// PostgreSQL) it keeps its users, organizations, applications and tokens across restarts: in
// /datastorage (the unit's /var/lib/quay/storage volume, writable by UID 1001).
const fs = require("fs");
const yaml = fs.readFileSync("/conf/stack/config.yaml", "utf8");
const superUsers = [];
let inList = false;
for (const line of yaml.split("\n")) {
  if (line.startsWith("SUPER_USERS:")) { inList = true; continue; }
  if (inList && line.startsWith("  - ")) superUsers.push(line.slice(4).trim());
  else if (inList) inList = false;
}
console.log(`config.yaml readable by uid ${process.getuid()}; SUPER_USERS ${superUsers.join(",")}`);
const stateFile = "/datastorage/stand-in-state.json";
require("./fake-quay").startFakeQuay({ port: 8080, host: "0.0.0.0", superUsers }).then((fake) => {
  if (fs.existsSync(stateFile)) {
    const s = JSON.parse(fs.readFileSync(stateFile, "utf8"));
    for (const [k, v] of s.users) fake.users.set(k, v);
    for (const [k, v] of s.orgs) fake.orgs.set(k, { admins: new Set(v) });
    for (const [k, v] of s.tokens) fake.tokens.set(k, v);
    fake.apps.push(...s.apps);
  }
  let last = "";
  setInterval(() => {
    const text = JSON.stringify({ users: [...fake.users], orgs: [...fake.orgs].map(([k, v]) => [k, [...v.admins]]), tokens: [...fake.tokens], apps: fake.apps });
    if (text !== last) {
      fs.writeFileSync(stateFile + ".tmp", text);
      fs.renameSync(stateFile + ".tmp", stateFile);
      last = text;
    }
  }, 100);
  console.log(`stand-in listening on 8080 (${fake.users.size} users restored)`);
});
process.on("SIGTERM", () => setTimeout(() => process.exit(0), 150));
