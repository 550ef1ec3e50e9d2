/**
 * The authorization middleware: a bearer token is required on every
 * non-public route (401 without one, or with an unknown or revoked one), and
 * its role must reach the route's (403 otherwise). It runs before any
 * validation, so an unauthenticated caller learns nothing about a route's
 * inputs.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { ApiEnv } from "./context.ts";
import { errorResponse } from "./http_errors.ts";
import { type Principal, type Role, roleAllows } from "./token_store.ts";
import { FORWARDED_AS_HEADER, forwardedPrincipal } from "./forwarded_as.ts";

/** The middleware for a route needing `access`. */
export function authorize(access: Role | "public"): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    if (access === "public") return await next();
    const header = c.req.header("authorization") ?? "";
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    // A request another kernel forwarded here is its caller's (api/forwarded_as.ts).
    const as = c.req.header(FORWARDED_AS_HEADER);
    const principal: Principal | null = as !== undefined
      ? forwardedPrincipal(as)
      : m === null
      ? null
      : c.var.ctx.tokens.authenticate(m[1]!);
    if (principal === null) {
      return errorResponse(c, 401, {
        code: "EAUTH",
        message: m === null
          ? "Cannot authenticate: send 'Authorization: Bearer <token>'"
          : "Cannot authenticate: the token is unknown or revoked",
      }, { "www-authenticate": 'Bearer realm="libos"' });
    }
    if (!roleAllows(principal.role, access)) {
      return errorResponse(c, 403, {
        code: "EPERM",
        message:
          `Cannot ${c.req.method} ${c.req.path}: the token '${principal.name}' has role ${principal.role}, this needs ${access}`,
      });
    }
    c.set("principal", principal);
    await next();
  };
}
