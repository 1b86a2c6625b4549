// Writes the JSON Schema of the registry model, generated from its zod schema (the single source of truth).
// Run: npx tsc -p . && node bin/scripts/generate-schemas.js
import * as fs from "fs";
import * as path from "path";
import { modelJsonSchema } from "../config/json-schema";

const target = path.resolve(__dirname, "../../data/quay/bootstrap-model.schema.json");
fs.writeFileSync(target, JSON.stringify(modelJsonSchema(), null, 2) + "\n");
console.log(`wrote ${path.relative(process.cwd(), target)}`);
