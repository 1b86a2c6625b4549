// The stand-in Quay of the full-mode end-to-end test: the project's Quay API emulator, started from the
// config.yaml that QuayHost rendered and mounted (it fails to start when the container user cannot read
// it, as Quay does), serving Quay's API and /v2/auth on port 8080 of the host network. As Quay, it keeps
// every object in the PostgreSQL of DB_URI, its sessions in the Redis of USER_EVENTS_REDIS, and answers
// /health/instance from the database, Redis and storage it was given (emulator/backends.js).
const fs = require("fs");
const YAML = require("yaml");
const config = YAML.parse(fs.readFileSync("/conf/stack/config.yaml", "utf8"));
console.log(`config.yaml readable by uid ${process.getuid()}; SERVER_HOSTNAME ${config.SERVER_HOSTNAME}`);
require("./emulator/index.js")
  .startQuayEmulator({ config, host: "0.0.0.0", port: 8080, backends: require("./emulator/backends.js").connectBackends(config) })
  .then((emulator) => {
    console.log(`stand-in Quay listening on ${emulator.url}`);
    const stop = () => emulator.close().then(() => process.exit(0));
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  })
  .catch((e) => {
    console.error(e);
    process.exit(1);
  });
