/**
 * `/mcp`: the kernel as an MCP server over the SDK's streamable HTTP
 * transport, inside the control plane's Hono app, on the API's port and
 * with its bearer tokens. In order, a request passes the DNS-rebinding
 * guard (403), for a POST the body limit (413) and the JSON guard (400),
 * the token check (401; any role), then the transport.
 *
 * The server is stateless: each POST is served by a fresh protocol server
 * for the token it carries (no `Mcp-Session-Id`; nothing is kept between
 * requests), answering with one JSON body. `GET` (a server-to-client
 * stream) and `DELETE` (ending a session) are therefore `405`, as the
 * transport specification allows.
 *
 * @module
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
// @ts-types="@modelcontextprotocol/sdk/server/webStandardStreamableHttp"
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { bodyLimit } from "hono/body-limit";
import type { ApiEnv } from "../context.ts";
import { errorResponse } from "../http_errors.ts";
import { apiRoute, jsonBodyGuard, jsonResponse } from "../route_def.ts";
import { mcpServerFor } from "./mcp_server.ts";
import { LOOPBACK_HOSTS, rebindingGuard } from "./rebinding_guard.ts";

/** Where the MCP server is served. */
export const MCP_PATH = "/mcp";

/** Options of {@linkcode mcpRoutes}; every field documents its default. */
export interface McpOptions {
  /**
   * Host names (without port) that `Host` and `Origin` may name (default
   * {@linkcode LOOPBACK_HOSTS}: `localhost`, `127.0.0.1`, `[::1]`). Add the
   * name clients use when the API listens beyond loopback.
   */
  allowedHosts?: readonly string[];
  /** The server version in `initialize` (the API's). */
  version: string;
}

const tag = ["mcp"];
const JsonRpc = z.record(z.string(), z.unknown()).openapi("JsonRpcMessage", {
  description: "A JSON-RPC 2.0 message or batch (MCP streamable HTTP transport)",
});
const description = "MCP streamable HTTP transport (stateless; protocol revision up to " +
  "2025-11-25). Send `Accept: application/json, text/event-stream`. Tools: list_processes, " +
  "get_process, wait_process, read_journal, list_objects, read_object, list_human_requests " +
  "(any token); spawn_process, signal_process, answer_human_request (operator). Resources: " +
  "libos://objects/{oid}, libos://journal/{pid}.";

const post = apiRoute("viewer", {
  method: "post",
  path: MCP_PATH,
  tags: tag,
  summary: "MCP: send JSON-RPC requests and notifications",
  description,
  request: {
    body: { required: true, content: { "application/json": { schema: JsonRpc } } },
  },
  responses: {
    200: jsonResponse(JsonRpc, "The JSON-RPC response(s)"),
    202: { description: "Notifications or responses only: accepted" },
    406: { description: "Accept does not list both application/json and text/event-stream" },
    415: { description: "The body is not application/json" },
  },
}, [400, 413]);

const _notAllowed = (method: "get" | "delete", summary: string) =>
  apiRoute("viewer", {
    method,
    path: MCP_PATH,
    tags: tag,
    summary,
    description,
    responses: { 405: { description: "Not offered: the server is stateless (Allow: POST)" } },
  });
const get = _notAllowed("get", "MCP: server-to-client stream (not offered: 405)");
const del = _notAllowed("delete", "MCP: end a session (not offered: 405)");

/** Registers `/mcp` on the control plane's app. */
export function mcpRoutes(app: OpenAPIHono<ApiEnv>, options: McpOptions): void {
  app.use(MCP_PATH, rebindingGuard(options.allowedHosts ?? LOOPBACK_HOSTS));
  // Only a POST's body is read; GET and DELETE are 405 whatever they carry.
  app.on("POST", MCP_PATH, (c, next) =>
    bodyLimit({
      maxSize: c.var.ctx.limits.bodyLimit,
      onError: (c) =>
        errorResponse(c, 413, {
          code: "ELIMIT",
          message:
            `Cannot accept the request: its body is over ${c.var.ctx.limits.bodyLimit} bytes`,
        }),
    })(c, next));
  app.on("POST", MCP_PATH, jsonBodyGuard());

  const notAllowed = () =>
    new Response(
      JSON.stringify({
        jsonrpc: "2.0",
        error: { code: -32000, message: "Method not allowed: this MCP server is stateless; POST" },
        id: null,
      }),
      { status: 405, headers: { allow: "POST", "content-type": "application/json" } },
    );
  app.openapi(get, notAllowed);
  app.openapi(del, notAllowed);

  app.openapi(post, async (c) => {
    const { ctx, principal } = c.var;
    const request = c.req.raw;
    let parsedBody: unknown = undefined;
    if (/^application\/json\b/i.test(c.req.header("content-type") ?? "")) {
      try {
        parsedBody = JSON.parse(await c.req.text());
      } catch {
        return Response.json({
          jsonrpc: "2.0",
          error: { code: -32700, message: "Parse error: the body is not JSON" },
          id: null,
        }, { status: 400 });
      }
    }
    const server = mcpServerFor(ctx, principal, options.version);
    // No sessionIdGenerator: stateless, no Mcp-Session-Id.
    const transport = new WebStandardStreamableHTTPServerTransport({ enableJsonResponse: true });
    // The transport's answer waits for the calls. A client that goes away
    // is answered at once and the server closed, which aborts its calls; a
    // plane that closes ends long waits through their own signal (they
    // answer timedOut, as GET /v1/processes/{pid}/wait does).
    const gone = Promise.withResolvers<Response>();
    const onGone = () =>
      gone.resolve(
        Response.json({
          jsonrpc: "2.0",
          error: { code: -32000, message: "The request ended before its answer" },
          id: null,
        }, { status: 503 }),
      );
    request.signal.addEventListener("abort", onGone, { once: true });
    try {
      await server.connect(transport);
      if (request.signal.aborted) onGone();
      return await Promise.race([
        transport.handleRequest(request, parsedBody === undefined ? {} : { parsedBody }),
        gone.promise,
      ]);
    } finally {
      request.signal.removeEventListener("abort", onGone);
      await server.close();
    }
  });
}
