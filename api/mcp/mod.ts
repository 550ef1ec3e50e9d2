/**
 * The kernel as an MCP server at `/mcp` on the control plane's port: the
 * official SDK's streamable HTTP transport, the API's bearer tokens and
 * roles, DNS-rebinding protection, tools for processes, journals, objects
 * and the human queue, and resource templates for objects and journals.
 * Every call is audited with the token's identity and role.
 *
 * @example
 * ```ts
 * import { Kernel } from "../../runtime/mod.ts";
 * import { ControlPlane } from "../mod.ts";
 *
 * await using kernel = await Kernel.create();
 * await using plane = await ControlPlane.create(kernel, { adminToken: "a-long-admin-secret" });
 * const res = await plane.request("/mcp", {
 *   method: "POST",
 *   headers: {
 *     authorization: "Bearer a-long-admin-secret",
 *     accept: "application/json, text/event-stream",
 *     "content-type": "application/json",
 *     "mcp-protocol-version": "2025-11-25",
 *   },
 *   body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
 * });
 * console.log(res.status); // 200
 * ```
 *
 * @module
 */
export { MCP_PATH, type McpOptions, mcpRoutes } from "./route.ts";
export { MCP_SERVER_NAME, mcpServerFor } from "./mcp_server.ts";
export { MCP_TOOLS, type McpTool, type ToolCall } from "./tools.ts";
export {
  type McpResourceTemplate,
  parseResourceUri,
  RESOURCE_TEMPLATES,
  type ResourceTarget,
} from "./resources.ts";
export { allowedHostsFor, hostNameOf, LOOPBACK_HOSTS, rebindingGuard } from "./rebinding_guard.ts";
export { auditMcpCall, type McpCallOutcome, type McpCallRecord } from "./call_audit.ts";
