// The registry model's JSON Schema, generated from the zod schema so the two can never disagree.
import { z } from "zod";
import { registryModelSchema } from "./model";

export function modelJsonSchema(): Record<string, unknown> {
  return {
    ...(z.toJSONSchema(registryModelSchema, { io: "input", target: "draft-2020-12" }) as Record<string, unknown>),
    $id: "https://quay-mirror.local/schemas/bootstrap-model.schema.json",
    title: "quay-mirror registry model",
    description: "Organizations, repositories, robots, teams and permissions of the mirror registry (data/quay/bootstrap-model.json).",
  };
}
