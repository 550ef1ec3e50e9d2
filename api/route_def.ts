/**
 * How a route of the control plane is declared: its OpenAPI description, the
 * role it needs and the errors it may answer, in one object. The role is
 * written into the OpenAPI operation as `x-libos-role`, and the same value
 * installs the route's authorization middleware, so the document, the
 * enforcement and the route × role test all read one table.
 *
 * @module
 */
import { createRoute, type RouteConfig, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { authorize } from "./auth.ts";
import type { ApiEnv } from "./context.ts";
import { ErrorSchema } from "./schemas.ts";
import type { Role } from "./token_store.ts";

/** Who may call a route: a role (or a stronger one), or anyone. */
export type Access = Role | "public";

/** The OpenAPI extension that names a route's access. */
export const ACCESS_EXTENSION = "x-libos-role";

/** One row of the route table. */
export interface RouteInfo {
  /** Upper-case HTTP method. */
  method: string;
  /** OpenAPI path, with `{param}` placeholders. */
  path: string;
  access: Access;
}

const ERROR_TEXT = {
  400: "The request is malformed or fails validation",
  401: "No bearer token, or an unknown or revoked one",
  403: "The token's role may not do this",
  404: "No such process, request, object, image, grant or token",
  409: "The target's state does not allow this (illegal transition, already decided, name taken)",
  413: "The request body is over the size limit",
  422: "A quota or limit of the kernel refuses it",
} as const;

/** An error status a route may declare. */
export type ErrorStatus = keyof typeof ERROR_TEXT;

type _ErrorResponses = {
  [S in ErrorStatus]?: {
    description: string;
    content: { "application/json": { schema: typeof ErrorSchema } };
  };
};

/** A JSON response of a schema. */
export function jsonResponse<S extends z.ZodType>(
  schema: S,
  description: string,
): { description: string; content: { "application/json": { schema: S } } } {
  return { description, content: { "application/json": { schema } } };
}

/** A JSON request body of a schema. */
export function jsonBody<S extends z.ZodType>(
  schema: S,
): { required: true; content: { "application/json": { schema: S } } } {
  return { required: true, content: { "application/json": { schema } } };
}

/**
 * Declares a route: `access` becomes its authorization middleware, its
 * `security` requirement and its `x-libos-role`; `errors` adds the error
 * answers (401 and 403 are added for every non-public route).
 */
export function apiRoute<
  const P extends string,
  const R extends Omit<RouteConfig, "path" | "middleware"> & { path: P },
>(
  access: Access,
  config: R,
  errors: readonly ErrorStatus[] = [],
): R & { middleware: MiddlewareHandler<ApiEnv>; getRoutingPath(): string } {
  const statuses: ErrorStatus[] = access === "public" ? [...errors] : [401, 403, ...errors];
  const responses: _ErrorResponses = {};
  for (const s of statuses) {
    responses[s] = {
      description: ERROR_TEXT[s],
      content: { "application/json": { schema: ErrorSchema } },
    };
  }
  return createRoute({
    ...config,
    responses: { ...responses, ...config.responses },
    middleware: authorize(access),
    ...(access === "public" ? { security: [] } : { security: [{ bearer: [] }] }),
    [ACCESS_EXTENSION]: access,
  }) as unknown as R & { middleware: MiddlewareHandler<ApiEnv>; getRoutingPath(): string };
}
