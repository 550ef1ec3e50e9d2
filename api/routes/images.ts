/**
 * Images and tools: what processes can be spawned from, and the primitive
 * tools an image's tool table may name.
 *
 * @module
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import {
  type ImageRecord,
  primitiveToolNames,
  primitiveToolSpec,
  type ToolSpec,
} from "../../runtime/mod.ts";
import { actorOf, type ApiEnv } from "../context.ts";
import { apiRoute, jsonBody, jsonResponse } from "../route_def.ts";
import { AgentImageSchema, ImageRecordSchema, ToolSpecSchema } from "../schemas.ts";

const list = apiRoute("viewer", {
  method: "get",
  path: "/v1/images",
  tags: ["images"],
  summary: "The current version of every registered image",
  responses: {
    200: jsonResponse(z.object({ images: z.array(ImageRecordSchema) }), "Images by id"),
  },
});

const register = apiRoute("operator", {
  method: "post",
  path: "/v1/images",
  tags: ["images"],
  summary: "Register an image (the same id and version with other content is 409)",
  request: { body: jsonBody(AgentImageSchema) },
  responses: { 201: jsonResponse(ImageRecordSchema, "The registered image") },
}, [400, 409, 413]);

const tools = apiRoute("viewer", {
  method: "get",
  path: "/v1/tools",
  tags: ["images"],
  summary: "The primitive tools, with the JSON Schema of their arguments",
  responses: {
    200: jsonResponse(z.object({ tools: z.array(ToolSpecSchema) }), "Tools by name"),
  },
});

/** Registers the image and tool routes. */
export function imageRoutes(app: OpenAPIHono<ApiEnv>): void {
  app.openapi(list, (c) => c.json({ images: c.var.ctx.kernel.images.list().map(_wire) }, 200));

  app.openapi(register, async (c) => {
    const record = await c.var.ctx.kernel.registerImage(c.req.valid("json"), {
      ...actorOf(c.var.principal),
      source: "api",
    });
    return c.json(_wire(record), 201);
  });

  app.openapi(tools, (c) => {
    const specs: ToolSpec[] = [];
    for (const name of primitiveToolNames()) {
      const spec = primitiveToolSpec(name);
      if (spec !== undefined) specs.push(spec);
    }
    return c.json({ tools: specs }, 200);
  });
}

/** A record as the API states it: the image as a JSON object (its optional fields may be absent). */
function _wire(record: ImageRecord): z.infer<typeof ImageRecordSchema> {
  return record;
}
