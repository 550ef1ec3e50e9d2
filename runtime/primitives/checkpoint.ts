/**
 * The checkpoint primitive: a process checkpoints itself (with `subtree`, its
 * descendants too); after a restore the same call answers `restored: true`.
 *
 * @module
 */
import { canonicalJson, sha256Hex } from "../audit/canonical_json.ts";
import type { SyscallEngine } from "../engine/engine.ts";
import { createCheckpoint } from "../checkpoint/checkpoints.ts";

/**
 * Checkpoints the calling process (with `subtree`, its descendants too).
 * Answers `{checkpoint, restored: false}`; after that checkpoint is
 * restored, the same call answers `{checkpoint, restored: true}`.
 */
export function checkpoint(
  e: SyscallEngine,
  reason?: string,
  options: { subtree?: boolean } = {},
): Promise<{ checkpoint: string; restored: boolean }> {
  const args = { reason: reason ?? null, subtree: options.subtree === true };
  const argsHash = sha256Hex(canonicalJson(args));
  return e.syscall("checkpoint.create", args, async (c) => {
    const authz = e.authorize(c, c.audit, "checkpoint", "create", {
      args,
      preview: `checkpoint ${e.pid}${reason ? `: ${reason}` : ""}`,
    });
    const info = await createCheckpoint(e.k, e.pid, {
      reason: reason ?? null,
      subtree: options.subtree === true,
      actor: `pid:${e.pid}`,
      batch: e.batch,
      call: { callId: e.callId, sys: c.n, argsHash },
    });
    e.allowed(authz, { checkpoint: info.id });
    return { checkpoint: info.id, restored: false };
  });
}
