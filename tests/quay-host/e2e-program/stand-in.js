// The stand-in Quay inside the test image: the fake of tests/quay-host/fake-quay.ts on port 8080, after
// proving the container user can read the mounted config.yaml.
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
require("./fake-quay").startFakeQuay({ port: 8080, host: "0.0.0.0", superUsers }).then(() => console.log("stand-in listening on 8080"));
process.on("SIGTERM", () => process.exit(0));
