/**
 * The retention policy of a process: whether its bodies are purged when it
 * ends (runtime/retention/purge.ts does the purge).
 *
 * @module
 */
import { isTerminal } from "../process/lifecycle.ts";
import type { ProcessRecord, Retention } from "../types.ts";

/**
 * The retention of a new process: `purge_on_exit` when the kernel, the image
 * or the parent says so (an operator's setting is a floor, and a child never
 * keeps what its parent may not), else `keep`.
 */
export function resolveRetention(
  ...sources: readonly (Retention | null | undefined)[]
): Retention {
  return sources.includes("purge_on_exit") ? "purge_on_exit" : "keep";
}

/** Whether a process's bodies are still to be purged. */
export function purgeDue(p: ProcessRecord): boolean {
  return p.retention === "purge_on_exit" && p.purgedAt === null && isTerminal(p.state);
}
