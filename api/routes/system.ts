/**
 * Health, identity and tokens: an admin mints tokens (the secret is answered
 * once), lists them (never their secrets) and revokes them.
 *
 * @module
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { actorOf, type ApiEnv } from "../context.ts";
import { apiRoute, jsonBody, jsonResponse } from "../route_def.ts";
import { IdParams, RoleSchema, TokenCreateBodySchema, TokenInfoSchema } from "../schemas.ts";

const health = apiRoute("public", {
  method: "get",
  path: "/v1/health",
  tags: ["system"],
  summary: "Liveness: whether the kernel is running",
  responses: {
    200: jsonResponse(z.object({ ok: z.boolean() }), "The kernel is up"),
    503: jsonResponse(z.object({ ok: z.boolean() }), "The kernel stopped on a fault"),
  },
});

const whoami = apiRoute("viewer", {
  method: "get",
  path: "/v1/whoami",
  tags: ["system"],
  summary: "The caller's token: name and role",
  responses: {
    200: jsonResponse(
      z.object({
        id: z.string(),
        name: z.string(),
        role: RoleSchema,
        ceiling: TokenInfoSchema.shape.ceiling,
      }),
      "Who",
    ),
  },
});

const listTokens = apiRoute("admin", {
  method: "get",
  path: "/v1/tokens",
  tags: ["system"],
  summary: "Minted tokens (never their secrets)",
  responses: {
    200: jsonResponse(z.object({ tokens: z.array(TokenInfoSchema) }), "The tokens"),
  },
});

const createToken = apiRoute("admin", {
  method: "post",
  path: "/v1/tokens",
  tags: ["system"],
  summary: "Mint a token with a role; its secret is in this answer only",
  request: { body: jsonBody(TokenCreateBodySchema) },
  responses: {
    201: jsonResponse(
      z.object({ token: z.string(), info: TokenInfoSchema }),
      "The secret and the token's description",
    ),
  },
}, [400, 409, 413]);

const revokeToken = apiRoute("admin", {
  method: "delete",
  path: "/v1/tokens/{id}",
  tags: ["system"],
  summary: "Revoke a minted token",
  request: { params: IdParams },
  responses: { 200: jsonResponse(TokenInfoSchema, "The token, revoked") },
}, [400, 404, 409]);

/** Registers health, identity and token routes. */
export function systemRoutes(app: OpenAPIHono<ApiEnv>): void {
  app.openapi(health, (c) => {
    const ok = c.var.ctx.kernel.fault === null;
    return ok ? c.json({ ok }, 200) : c.json({ ok }, 503);
  });

  app.openapi(whoami, (c) => c.json({ ...c.var.principal }, 200));

  app.openapi(listTokens, (c) => c.json({ tokens: c.var.ctx.tokens.list() }, 200));

  app.openapi(createToken, async (c) => {
    const body = c.req.valid("json");
    const created = await c.var.ctx.tokens.create(
      {
        role: body.role,
        ...(body.name === undefined ? {} : { name: body.name }),
        ...(body.ceiling === undefined ? {} : { ceiling: body.ceiling }),
      },
      actorOf(c.var.principal),
    );
    // A secret is shown once and never kept, not even for a retry with the same key.
    c.set("replayInstead", {
      status: 409,
      error: {
        code: "EIDEMPOTENCY",
        message: `Cannot show the token again: the first request with this key minted ` +
          `'${created.info.id}', and its secret is shown once; revoke it and mint another`,
      },
    });
    return c.json(created, 201);
  });

  app.openapi(revokeToken, async (c) => {
    const info = await c.var.ctx.tokens.revoke(c.req.valid("param").id, actorOf(c.var.principal));
    return c.json(info, 200);
  });
}
