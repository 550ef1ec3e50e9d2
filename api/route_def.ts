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
import { errorResponse } from "./http_errors.ts";
import { idempotency, IDEMPOTENCY_KEY_HEADER, REPLAYED_HEADER } from "./idempotency.ts";
import { ErrorSchema } from "./schemas.ts";
import { atOwner, type OwnerOf } from "./owner_routing.ts";
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
  409:
    "The target's state does not allow this (illegal transition, already decided, name taken), or a request with this Idempotency-Key is still running (`EBUSY`)",
  412: "If-Match names another revision: the body's `current` is the object as it stands",
  413: "The request body is over the size limit",
  422:
    "A quota or limit of the kernel refuses it, or the Idempotency-Key was sent with another request or body (`EIDEMPOTENCY`)",
  504:
    "The kernel that runs the process did not answer the forwarded command in time (`ETIMEDOUT`; docs/cluster.md)",
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

/**
 * A JSON request body of a schema. Before it is parsed and validated, every
 * JSON body has passed {@linkcode jsonBodyGuard} (UTF-8, at most
 * {@linkcode MAX_JSON_DEPTH} levels deep).
 */
export function jsonBody<S extends z.ZodType>(
  schema: S,
): { required: true; content: { "application/json": { schema: S } } } {
  return { required: true, content: { "application/json": { schema } } };
}

/** The deepest nesting of arrays and objects a JSON request body may have. */
export const MAX_JSON_DEPTH = 128;

/** The media types the validator parses as JSON (`application/json`, `application/*+json`). */
const _JSON_MEDIA = /^application\/([\w.-]+\+)?json$/i;
const _UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The one check every JSON request body passes before it is parsed or
 * validated: it must be UTF-8 and nest at most {@linkcode MAX_JSON_DEPTH}
 * levels deep, else 400 `EINVAL` naming the limit. Deeply nested values
 * would otherwise reach code that walks them recursively and exhaust its
 * stack. Install it after the body-size limit (the bytes it reads are
 * cached for the validator).
 */
export function jsonBodyGuard(): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const type = c.req.header("content-type");
    const media = type?.split(";")[0]?.trim() ?? "";
    if (c.req.raw.body === null || !_JSON_MEDIA.test(media)) return await next();
    let text: string;
    try {
      text = _UTF8.decode(await c.req.arrayBuffer());
    } catch (error) {
      if (!(error instanceof TypeError)) throw error;
      return errorResponse(c, 400, {
        code: "EINVAL",
        message: "Cannot accept the request: its JSON body is not valid UTF-8",
      });
    }
    const depth = jsonDepth(text);
    if (depth > MAX_JSON_DEPTH) {
      return errorResponse(c, 400, {
        code: "EINVAL",
        message:
          `Cannot accept the request: its JSON body nests ${depth} levels deep, over the limit of ${MAX_JSON_DEPTH}`,
      });
    }
    await next();
  };
}

/**
 * The deepest nesting of arrays and objects in a JSON text, by one scan
 * without recursion (brackets inside strings do not count). It does not
 * check that the text is JSON; the parser does.
 */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c) i++; // a backslash escapes the next character
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) {
      inString = true;
    } else if (ch === 0x5b || ch === 0x7b) {
      if (++depth > max) max = depth;
    } else if ((ch === 0x5d || ch === 0x7d) && depth > 0) {
      depth--;
    }
  }
  return max;
}

/** The `Idempotency-Key` request header, as every mutating route documents it. */
export const IdempotencyKeyHeader = z.object({
  [IDEMPOTENCY_KEY_HEADER.toLowerCase()]: z.string().min(1).max(255).optional().openapi({
    description: "Runs the command once per key and token: a retry with the same key, " +
      "request and body gets the first answer again (with `Idempotent-Replayed: true`); " +
      "1 to 255 printable ASCII characters, kept 24 h by default",
    example: "3f1c9a2e-spawn-hello",
  }),
});

const _MUTATING = new Set(["post", "put", "patch", "delete"]);

/**
 * Declares a route: `access` becomes its authorization middleware, its
 * `security` requirement and its `x-libos-role`; `errors` adds the error
 * answers (401 and 403 are added for every non-public route). A mutating
 * route (POST, PUT, PATCH, DELETE) also takes an `Idempotency-Key`
 * ({@linkcode idempotency}), documented with its 409 and 422 answers. A
 * route that acts on one process names how it is found (`owner`): on a
 * cluster, another kernel's process is served by its owner
 * ({@linkcode atOwner}; 504 when it does not answer in time).
 */
export function apiRoute<
  const P extends string,
  const R extends Omit<RouteConfig, "path" | "middleware"> & { path: P },
>(
  access: Access,
  config: R,
  errors: readonly ErrorStatus[] = [],
  options: { owner?: OwnerOf } = {},
): R & { middleware: MiddlewareHandler<ApiEnv>[]; getRoutingPath(): string } {
  const mutating = _MUTATING.has(config.method) && access !== "public";
  const statuses: ErrorStatus[] = access === "public" ? [...errors] : [401, 403, ...errors];
  if (options.owner !== undefined && !statuses.includes(504)) statuses.push(504);
  if (mutating) {
    for (const s of [409, 422] as const) if (!statuses.includes(s)) statuses.push(s);
  }
  const responses: _ErrorResponses = {};
  for (const s of statuses) {
    responses[s] = {
      description: ERROR_TEXT[s],
      content: { "application/json": { schema: ErrorSchema } },
    };
  }
  const request = mutating ? _withIdempotencyHeader(config.request) : config.request;
  const answers = mutating ? _withReplayedHeader(config.responses) : config.responses;
  return createRoute({
    ...config,
    ...(request === undefined ? {} : { request }),
    responses: { ...responses, ...answers },
    middleware: [
      authorize(access),
      ...(mutating ? [idempotency()] : []),
      ...(options.owner === undefined ? [] : [atOwner(options.owner)]),
    ],
    ...(access === "public" ? { security: [] } : { security: [{ bearer: [] }] }),
    [ACCESS_EXTENSION]: access,
  }) as unknown as R & { middleware: MiddlewareHandler<ApiEnv>[]; getRoutingPath(): string };
}

/** A route's success answers, each documenting `Idempotent-Replayed`. */
function _withReplayedHeader(answers: RouteConfig["responses"]): RouteConfig["responses"] {
  const out: RouteConfig["responses"] = {};
  for (const [status, answer] of Object.entries(answers)) {
    out[status] = status.startsWith("2") && !("$ref" in answer)
      ? {
        ...answer,
        headers: {
          ...(answer.headers as Record<string, unknown> | undefined),
          [REPLAYED_HEADER]: {
            description: "`true` when the answer is the stored one of an earlier request " +
              "with the same Idempotency-Key (nothing was done again)",
            schema: { type: "string", enum: ["true"] },
          },
        },
      }
      : answer;
  }
  return out;
}

/** A route's request with the `Idempotency-Key` header added to its headers. */
function _withIdempotencyHeader(request: RouteConfig["request"]): RouteConfig["request"] {
  const headers = request?.headers;
  if (headers === undefined) return { ...request, headers: IdempotencyKeyHeader };
  if (headers instanceof z.ZodObject) {
    return { ...request, headers: headers.extend(IdempotencyKeyHeader.shape) };
  }
  throw new TypeError("apiRoute: a mutating route's headers must be a zod object");
}
