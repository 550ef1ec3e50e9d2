/**
 * Capabilities: a process's grants, an operator's grant, a revoke (which
 * cascades to derived grants and voids approvals that relied on them).
 * Granting and revoking change what a process may do: they need `admin`.
 *
 * @module
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { actorOf, type ApiEnv } from "../context.ts";
import { apiRoute, jsonBody, jsonResponse } from "../route_def.ts";
import {
  GrantSchema,
  GrantSpecSchema,
  IdParams,
  IfMatchHeaders,
  PidParams,
  Revision,
} from "../schemas.ts";
import { checkIfMatch, withRevision } from "../revision.ts";
import { processGrants } from "../cluster_reach.ts";
import { byGrant, byPid } from "../owner_routing.ts";

const tag = ["capabilities"];

const list = apiRoute("viewer", {
  method: "get",
  path: "/v1/processes/{pid}/capabilities",
  tags: tag,
  summary: "Every grant a process holds (live, spent, revoked)",
  request: { params: PidParams },
  responses: {
    200: jsonResponse(
      z.object({ capabilities: z.array(GrantSchema.extend(Revision)) }),
      "The grants",
    ),
  },
}, [400, 404]);

const grant = apiRoute(
  "admin",
  {
    method: "post",
    path: "/v1/processes/{pid}/capabilities",
    tags: tag,
    summary: "Grant a capability to a process",
    request: { params: PidParams, body: jsonBody(GrantSpecSchema) },
    responses: { 201: jsonResponse(GrantSchema, "The grant") },
  },
  [400, 404, 409, 413],
  { owner: byPid },
);

const revoke = apiRoute(
  "admin",
  {
    method: "delete",
    path: "/v1/capabilities/{id}",
    tags: tag,
    summary: "Revoke a grant and every grant derived from it",
    request: { params: IdParams, headers: IfMatchHeaders },
    responses: {
      200: jsonResponse(z.object({ revoked: z.array(GrantSchema) }), "The grants revoked now"),
    },
  },
  [400, 404, 409, 412],
  { owner: byGrant },
);

/** Registers the capability routes. */
export function capabilityRoutes(app: OpenAPIHono<ApiEnv>): void {
  app.openapi(list, async (c) => {
    const grants = await processGrants(c.var.ctx.kernel, c.req.valid("param").pid);
    return c.json({ capabilities: grants.map(withRevision) }, 200);
  });

  app.openapi(grant, async (c) => {
    const g = await c.var.ctx.kernel.grant(
      c.req.valid("param").pid,
      c.req.valid("json"),
      actorOf(c.var.principal),
    );
    return c.json(g, 201);
  });

  app.openapi(revoke, async (c) => {
    const current = c.var.ctx.kernel.grants.get(c.req.valid("param").id);
    if (current !== undefined) checkIfMatch(c.req.header("if-match"), { ...current });
    const revoked = await c.var.ctx.kernel.revoke(
      c.req.valid("param").id,
      actorOf(c.var.principal),
    );
    return c.json({ revoked }, 200);
  });
}
