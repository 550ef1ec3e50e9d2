/**
 * Checkpoints: take one (operator), list a process's (viewer), restore in
 * place, export a bundle and import one (admin: a restore rolls authority
 * back, and a bundle carries a process's whole state).
 *
 * @module
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { actorOf, type ApiEnv } from "../context.ts";
import { apiRoute, jsonBody, jsonResponse } from "../route_def.ts";
import { libosError } from "../../runtime/mod.ts";
import {
  CheckpointBodySchema,
  CheckpointInfoSchema,
  IdParams,
  IfMatchHeaders,
  PidParams,
  ProcessSchema,
  Revision,
} from "../schemas.ts";
import { checkIfMatch, etag, withRevision } from "../revision.ts";
import { processCheckpoints } from "../cluster_reach.ts";
import { byCheckpoint, byPid } from "../owner_routing.ts";

const tag = ["checkpoints"];
const binary = z.string().openapi({ type: "string", format: "binary" });

const create = apiRoute(
  "operator",
  {
    method: "post",
    path: "/v1/processes/{pid}/checkpoints",
    tags: tag,
    summary: "Checkpoint a process (or its subtree)",
    request: { params: PidParams, body: jsonBody(CheckpointBodySchema) },
    responses: { 201: jsonResponse(CheckpointInfoSchema, "The checkpoint") },
  },
  [400, 404, 409, 413, 422],
  { owner: byPid },
);

const list = apiRoute("viewer", {
  method: "get",
  path: "/v1/processes/{pid}/checkpoints",
  tags: tag,
  summary: "Checkpoints that include a process, oldest first",
  request: { params: PidParams },
  responses: {
    200: jsonResponse(z.object({ checkpoints: z.array(CheckpointInfoSchema) }), "Checkpoints"),
  },
}, [400, 404]);

const restore = apiRoute(
  "admin",
  {
    method: "post",
    path: "/v1/checkpoints/{id}/restore",
    tags: tag,
    summary: "Roll the checkpoint's processes back in place (the audit log is never rolled back)",
    request: { params: IdParams, headers: IfMatchHeaders },
    responses: { 200: jsonResponse(ProcessSchema.extend(Revision), "The restored process") },
  },
  [400, 404, 409, 412],
  { owner: byCheckpoint },
);

const bundle = apiRoute(
  "admin",
  {
    method: "get",
    path: "/v1/checkpoints/{id}/bundle",
    tags: tag,
    summary: "Export a checkpoint as a self-contained, hash-verified bundle",
    request: { params: IdParams },
    responses: {
      200: {
        description: "The bundle",
        content: { "application/octet-stream": { schema: binary } },
      },
    },
  },
  [400, 404],
  { owner: byCheckpoint },
);

const importRoute = apiRoute("admin", {
  method: "post",
  path: "/v1/checkpoints/import",
  tags: tag,
  summary: "Import a bundle from another kernel; its processes resume here under new pids",
  request: {
    body: { required: true, content: { "application/octet-stream": { schema: binary } } },
  },
  responses: {
    201: jsonResponse(
      z.object({
        pids: z.record(z.string(), z.string()).openapi({
          description: "the bundle's pid → the new pid here",
        }),
      }),
      "The imported processes",
    ),
  },
}, [400, 409, 413, 422]);

/** Registers the checkpoint routes. */
export function checkpointRoutes(app: OpenAPIHono<ApiEnv>): void {
  app.openapi(create, async (c) => {
    const body = c.req.valid("json");
    const info = await c.var.ctx.kernel.createCheckpoint(c.req.valid("param").pid, {
      ...(body.reason === undefined ? {} : { reason: body.reason }),
      ...(body.subtree === undefined ? {} : { subtree: body.subtree }),
    }, actorOf(c.var.principal));
    return c.json(info, 201);
  });

  app.openapi(list, async (c) => {
    const checkpoints = await processCheckpoints(c.var.ctx.kernel, c.req.valid("param").pid);
    return c.json({ checkpoints }, 200);
  });

  app.openapi(restore, async (c) => {
    const { kernel } = c.var.ctx;
    const id = c.req.valid("param").id;
    const ifMatch = c.req.header("if-match");
    if (ifMatch !== undefined) {
      checkIfMatch(ifMatch, kernel.get((await kernel.getCheckpoint(id)).pid));
    }
    const p = withRevision(await kernel.restoreCheckpoint(id, actorOf(c.var.principal)));
    return c.json(p, 200, { etag: etag(p.revision) });
  });

  app.openapi(bundle, async (c) => {
    const { id } = c.req.valid("param");
    const bytes = await c.var.ctx.kernel.exportCheckpoint(id, actorOf(c.var.principal));
    return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
      "content-type": "application/octet-stream",
      "content-disposition": `attachment; filename="${
        id.replace(/[^A-Za-z0-9_.-]/g, "_")
      }.libos-bundle"`,
    });
  });

  app.openapi(importRoute, async (c) => {
    const type = c.req.header("content-type") ?? "application/octet-stream";
    if (!/^application\/octet-stream\b/i.test(type)) {
      throw libosError(
        "EINVAL",
        `Cannot import a bundle sent as '${type}': send application/octet-stream`,
      );
    }
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    const result = await c.var.ctx.kernel.importBundle(bytes, actorOf(c.var.principal));
    return c.json(result, 201);
  });
}
