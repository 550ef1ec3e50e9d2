/**
 * A process's memory as the operator reads it: its objects and its journal.
 *
 * @module
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { ApiEnv } from "../context.ts";
import { apiRoute, jsonResponse } from "../route_def.ts";
import { processJournal, processObjects } from "../process_queries.ts";
import { findObject } from "../cluster_reach.ts";
import {
  JournalEntrySchema,
  JournalQuerySchema,
  ObjectSchema,
  ObjectsQuery,
  OidParams,
  PidParams,
} from "../schemas.ts";

const tag = ["memory"];

const objects = apiRoute("viewer", {
  method: "get",
  path: "/v1/processes/{pid}/objects",
  tags: tag,
  summary: "Objects of a namespace (default: the process's own, proc/<pid>)",
  request: { params: PidParams, query: ObjectsQuery },
  responses: {
    200: jsonResponse(
      z.object({ namespace: z.string(), objects: z.array(ObjectSchema) }),
      "The newest version of each object",
    ),
  },
}, [400, 404]);

const object = apiRoute("viewer", {
  method: "get",
  path: "/v1/objects/{oid}",
  tags: tag,
  summary: "One object by oid (its newest version)",
  request: { params: OidParams },
  responses: { 200: jsonResponse(ObjectSchema, "The object") },
}, [400, 404]);

const journal = apiRoute("viewer", {
  method: "get",
  path: "/v1/processes/{pid}/journal",
  tags: tag,
  summary: "A process's journal, in order, after a sequence number",
  request: { params: PidParams, query: JournalQuerySchema },
  responses: {
    200: jsonResponse(z.object({ entries: z.array(JournalEntrySchema) }), "Journal entries"),
  },
}, [400, 404]);

/** Registers the object and journal routes. */
export function memoryRoutes(app: OpenAPIHono<ApiEnv>): void {
  app.openapi(objects, async (c) => {
    const { pid } = c.req.valid("param");
    const answer = await processObjects(c.var.ctx.kernel, pid, c.req.valid("query").namespace);
    return c.json(answer, 200);
  });

  app.openapi(
    object,
    async (c) => c.json(await findObject(c.var.ctx.kernel, c.req.valid("param").oid), 200),
  );

  app.openapi(journal, async (c) => {
    const q = c.req.valid("query");
    const entries = await processJournal(c.var.ctx.kernel, c.req.valid("param").pid, {
      ...(q.after === undefined ? {} : { after: q.after }),
      ...(q.limit === undefined ? {} : { limit: q.limit }),
    });
    return c.json({ entries }, 200);
  });
}
