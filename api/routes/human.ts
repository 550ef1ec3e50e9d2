/**
 * The human queue: pending requests with their escaped previews, and the one
 * decision each takes (approve, deny or answer; scope once or always; an
 * outcome request: happened, retry or fail). The
 * decision is the kernel's: single use (a second one is 409), bound to the
 * exact action hash, audited with the deciding token's identity; the process
 * wakes and re-dispatches the same action without a new model call.
 *
 * @module
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { actorOf, type ApiEnv } from "../context.ts";
import { apiRoute, jsonBody, jsonResponse } from "../route_def.ts";
import {
  DecisionBodySchema,
  HumanListQuery,
  HumanRequestSchema,
  IdParams,
  IfMatchHeaders,
  Revision,
} from "../schemas.ts";
import { checkIfMatch, etag, withRevision } from "../revision.ts";
import { clusterHumanRequests, findHumanRequest } from "../cluster_reach.ts";
import { byHumanRequest } from "../owner_routing.ts";

const tag = ["human queue"];

const list = apiRoute("viewer", {
  method: "get",
  path: "/v1/human",
  tags: tag,
  summary: "Human requests, oldest first, optionally by state and pid",
  request: { query: HumanListQuery },
  responses: {
    200: jsonResponse(
      z.object({ requests: z.array(HumanRequestSchema.extend(Revision)) }),
      "The requests",
    ),
  },
}, [400]);

const get = apiRoute("viewer", {
  method: "get",
  path: "/v1/human/{id}",
  tags: tag,
  summary: "One human request",
  request: { params: IdParams },
  responses: { 200: jsonResponse(HumanRequestSchema.extend(Revision), "The request") },
}, [400, 404]);

const decide = apiRoute(
  "operator",
  {
    method: "post",
    path: "/v1/human/{id}",
    tags: tag,
    summary: "Decide a pending request: approve or deny (approval, permission), answer or deny " +
      "(question), once (default) or always; happened (with an optional value), retry or fail " +
      "(outcome)",
    request: { params: IdParams, headers: IfMatchHeaders, body: jsonBody(DecisionBodySchema) },
    responses: {
      200: jsonResponse(HumanRequestSchema.extend(Revision), "The request as decided"),
    },
  },
  [400, 404, 409, 412, 413],
  { owner: byHumanRequest },
);

/** Registers the human-queue routes. */
export function humanRoutes(app: OpenAPIHono<ApiEnv>): void {
  app.openapi(list, async (c) => {
    const q = c.req.valid("query");
    const requests = (await clusterHumanRequests(c.var.ctx.kernel, {
      ...(q.state === undefined ? {} : { state: q.state }),
      ...(q.pid === undefined ? {} : { pid: q.pid }),
    })).map(withRevision);
    return c.json({ requests }, 200);
  });

  app.openapi(get, async (c) => {
    const r = withRevision(await findHumanRequest(c.var.ctx.kernel, c.req.valid("param").id));
    return c.json(r, 200, { etag: etag(r.revision) });
  });

  app.openapi(decide, async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    const decision = {
      decision: body.decision,
      previewSha256: body.previewSha256,
      ...(body.answer === undefined ? {} : { answer: body.answer }),
      ...(body.value === undefined ? {} : { value: body.value }),
      ...(body.scope === undefined ? {} : { scope: body.scope }),
    };
    const { kernel } = c.var.ctx;
    checkIfMatch(c.req.header("if-match"), kernel.humanRequest(id));
    const r = await kernel.answer(id, decision, actorOf(c.var.principal));
    const decided = withRevision(r);
    return c.json(decided, 200, { etag: etag(decided.revision) });
  });
}
