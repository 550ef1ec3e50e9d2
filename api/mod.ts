/**
 * The control plane of Agent libOS: a Hono HTTP API over a kernel, with an
 * OpenAPI 3.1 document, bearer tokens with roles, the human queue, long polls
 * and a server-sent event stream, and a web console.
 *
 * @example
 * ```ts
 * import { Kernel } from "../runtime/mod.ts";
 * import { ControlPlane } from "./mod.ts";
 *
 * await using kernel = await Kernel.create();
 * await using plane = await ControlPlane.create(kernel, { adminToken: "a-long-admin-secret" });
 * const res = await plane.request("/v1/processes", {
 *   headers: { authorization: "Bearer a-long-admin-secret" },
 * });
 * console.log(res.status); // 200
 * ```
 *
 * @module
 */
export { API_VERSION, ControlPlane, type ControlPlaneOptions } from "./control_plane.ts";
export { type ApiServer, serveControlPlane, type ServeOptions } from "./server.ts";
export {
  type Principal,
  type Role,
  roleAllows,
  ROLES,
  type TokenInfo,
  TokenStore,
} from "./token_store.ts";
export { type AdminToken, type AdminTokenOptions, resolveAdminToken } from "./admin_token.ts";
export type { Access, RouteInfo } from "./route_def.ts";
export type { ApiLimits } from "./context.ts";
export { EVENT_TYPES, type EventType } from "./event_hub.ts";
export { ApiClient, ApiClientError, type ApiClientOptions } from "./client.ts";
export { allowedHostsFor as mcpAllowedHostsFor, MCP_PATH } from "./mcp/mod.ts";
