/**
 * The MCP server of one caller: the SDK's protocol `Server` with the tools
 * the caller's role may call and the resource templates. It is built for
 * each request, for the token that request authenticated, so `tools/list`
 * shows a viewer only the read tools and a call to any other is refused
 * (an `EPERM` tool error naming the role) and audited as denied.
 *
 * The SDK's low-level `Server` is used rather than `McpServer` because the
 * tool list and the refusal depend on the caller, and because every call
 * is audited with its outcome, refusals included.
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/server/index"
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { errorText, LibosError, logLine } from "../../runtime/mod.ts";
import type { ApiContext } from "../context.ts";
import { zodIssues } from "../http_errors.ts";
import { RevisionMismatch } from "../revision.ts";
import { type Principal, roleAllows } from "../token_store.ts";
import { auditMcpCall } from "./call_audit.ts";
import { listResources, parseResourceUri, readResource, RESOURCE_TEMPLATES } from "./resources.ts";
import { MCP_TOOLS, type McpTool } from "./tools.ts";

/** The server's name in `initialize`. */
export const MCP_SERVER_NAME = "agent-libos";

const _INSTRUCTIONS = "Agent libOS kernel: processes are LLM agents with capabilities, a " +
  "journal and object memory. Read with list_processes, get_process, wait_process, " +
  "read_journal, list_objects, read_object and list_human_requests; operators also " +
  "spawn_process, signal_process and answer_human_request (send the request's previewSha256).";

/** Each tool as `tools/list` publishes it (its JSON Schema computed once). */
const _LISTED = new Map(MCP_TOOLS.map((t) => [t.name, {
  name: t.name,
  title: t.title,
  description: t.description,
  inputSchema: z.toJSONSchema(t.input, { io: "input" }) as {
    type: "object";
    [key: string]: unknown;
  },
  annotations: { readOnlyHint: t.role === "viewer" },
}]));

/** Builds the MCP server for one caller; `version` is the API's. */
export function mcpServerFor(ctx: ApiContext, principal: Principal, version: string): Server {
  const server = new Server(
    { name: MCP_SERVER_NAME, version },
    {
      capabilities: { tools: { listChanged: false }, resources: {} },
      instructions: _INSTRUCTIONS,
    },
  );
  const allowed = MCP_TOOLS.filter((t) => roleAllows(principal.role, t.role));

  server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: allowed.map((t) => _LISTED.get(t.name)!),
  }));

  server.setRequestHandler(
    CallToolRequestSchema,
    _guarded(async (request, extra) => {
      const name = request.params.name;
      const tool = MCP_TOOLS.find((t) => t.name === name);
      const audit = (outcome: string, more: { pid?: string | null; decision?: "deny" } = {}) =>
        auditMcpCall(ctx.kernel, principal, { action: "mcp.call", tool: name.slice(0, 128) }, {
          outcome,
          ...more,
        });
      if (tool === undefined) {
        await audit("ENOENT", { decision: "deny" });
        throw new McpError(
          ErrorCode.InvalidParams,
          `Cannot call tool '${name.slice(0, 128)}': no such tool`,
        );
      }
      if (!roleAllows(principal.role, tool.role)) {
        await audit("EPERM", { decision: "deny" });
        return _toolError(
          "EPERM",
          `Cannot call ${tool.name}: the token '${principal.name}' has role ${principal.role}, this needs ${tool.role}`,
        );
      }
      const parsed = tool.input.safeParse(request.params.arguments ?? {});
      if (!parsed.success) {
        await audit("EINVAL");
        return _toolError(
          "EINVAL",
          `Cannot call ${tool.name}: its arguments fail validation`,
          { issues: zodIssues(parsed.error) },
        );
      }
      const args = parsed.data as Record<string, unknown>;
      const argPid = typeof args["pid"] === "string" ? args["pid"] : null;
      let value: Record<string, unknown>;
      try {
        value = { ...await tool.run({ ctx, principal, signal: extra.signal }, args) };
      } catch (error) {
        const failed = _failure(tool, error);
        await audit(failed.code, { pid: argPid });
        return _toolError(failed.code, failed.message, failed.extra);
      }
      await audit("ok", {
        pid: argPid ?? (typeof value["pid"] === "string" ? value["pid"] : null),
      });
      return {
        content: [{ type: "text", text: JSON.stringify(value) }],
        structuredContent: value,
      } satisfies CallToolResult;
    }),
  );

  server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({
    resourceTemplates: [...RESOURCE_TEMPLATES],
  }));

  server.setRequestHandler(ListResourcesRequestSchema, async (request) => {
    try {
      return await listResources(ctx.kernel, request.params?.cursor);
    } catch (error) {
      throw _protocolError(error);
    }
  });

  server.setRequestHandler(
    ReadResourceRequestSchema,
    _guarded(async (request) => {
      const uri = request.params.uri;
      const record = { action: "mcp.read", uri: uri.slice(0, 2048) } as const;
      let value: unknown;
      let pid: string | null = null;
      try {
        const target = parseResourceUri(uri);
        pid = target.kind === "journal" ? target.pid : null;
        value = await readResource(ctx.kernel, target);
      } catch (error) {
        const failed = error instanceof LibosError ? error.code : "EINTERNAL";
        await auditMcpCall(ctx.kernel, principal, record, { outcome: failed, pid });
        throw _protocolError(error);
      }
      await auditMcpCall(ctx.kernel, principal, record, { outcome: "ok", pid });
      return {
        contents: [{ uri, mimeType: "application/json", text: JSON.stringify(value) }],
      };
    }),
  );

  return server;
}

/**
 * A handler whose unexpected failure (an audit write on a stopped kernel)
 * is logged and answered as a JSON-RPC internal error, never with its text.
 */
function _guarded<A extends unknown[], R>(
  handler: (...args: A) => Promise<R>,
): (...args: A) => Promise<R> {
  return async (...args) => {
    try {
      return await handler(...args);
    } catch (error) {
      if (error instanceof McpError) throw error;
      console.error(logLine(`libos mcp: a request failed: ${errorText(error)}`));
      throw new McpError(ErrorCode.InternalError, "Internal error");
    }
  };
}

/** A tool's failure as the caller sees it: kernel codes as they are, anything else internal. */
function _failure(
  tool: McpTool,
  error: unknown,
): { code: string; message: string; extra?: Record<string, unknown> } {
  if (error instanceof RevisionMismatch) {
    return { code: "EREVISION", message: error.message, extra: { current: error.current } };
  }
  if (error instanceof LibosError) return { code: error.code, message: error.message };
  console.error(logLine(`libos mcp: ${tool.name} failed: ${errorText(error)}`));
  return { code: "EINTERNAL", message: "Internal error" };
}

/** A tool error: `isError`, its text `<code>: <message>`, the error as structured content. */
function _toolError(
  code: string,
  message: string,
  extra: Record<string, unknown> = {},
): CallToolResult {
  const error = { code, message, ...extra };
  return {
    isError: true,
    content: [{ type: "text", text: `${code}: ${message}` }],
    structuredContent: { error },
  };
}

/** A JSON-RPC error for a resource request (ENOENT is the spec's "resource not found"). */
function _protocolError(error: unknown): McpError {
  if (error instanceof LibosError) {
    const code = error.code === "ENOENT" ? -32002 : ErrorCode.InvalidParams;
    return new McpError(code, `${error.code}: ${error.message}`);
  }
  console.error(logLine(`libos mcp: resource read failed: ${errorText(error)}`));
  return new McpError(ErrorCode.InternalError, "Internal error");
}
