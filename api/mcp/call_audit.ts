/**
 * The audit record of each MCP call: one `mcp.call` per `tools/call` and one
 * `mcp.read` per `resources/read`, written when the call is answered, whose
 * actor is the token (`token:<name>`, as for the HTTP API) and whose detail
 * names the token's id and role, the tool or URI, and the outcome (`ok` or
 * the error code). A call refused for its role is `decision: "deny"`. What
 * the call changed is audited by the kernel besides, with the same actor.
 *
 * @module
 */
import { actorOf } from "../context.ts";
import type { Kernel } from "../../runtime/mod.ts";
import type { Principal } from "../token_store.ts";

/** What one MCP call was. */
export type McpCallRecord =
  | { action: "mcp.call"; tool: string }
  | { action: "mcp.read"; uri: string };

/** How it ended. */
export interface McpCallOutcome {
  /** `ok`, or the error's code (`EPERM`, `ENOENT`, `EINVAL`, `ESTALE`, …). */
  outcome: string;
  /** The process it concerned, when it names one. */
  pid?: string | null;
  /** `deny` when the token's role may not make the call. */
  decision?: "allow" | "deny";
}

/** Appends the audit record of one call. */
export async function auditMcpCall(
  kernel: Kernel,
  principal: Principal,
  call: McpCallRecord,
  end: McpCallOutcome,
): Promise<void> {
  const { action, ...target } = call;
  await kernel.recordAudit({
    action,
    pid: end.pid ?? null,
    decision: end.decision ?? "allow",
    detail: {
      ...target,
      token: principal.id,
      role: principal.role,
      outcome: end.outcome,
    },
  }, actorOf(principal));
}
