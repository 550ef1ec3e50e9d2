/**
 * The Authorizer: the one place where the kernel decides a right on a
 * resource for a process. Every primitive (tools, the sandbox's syscalls,
 * model calls, the shell's view of the workspace, each hop of a fetch) asks
 * it; nothing else calls {@linkcode decide}.
 *
 * It adds one rule to DESIGN §3's decision: a process owns its namespace
 * (`proc/<pid>`), so reading, writing, deleting, linking and listing there
 * needs no grant.
 *
 * @module
 */
import { decide, type DecisionResult } from "../capability/capability.ts";
import type { Clock } from "../substrate/clock.ts";
import type { GrantTable } from "../capability/grant_table.ts";
import type { Pid } from "../types.ts";

/** What a process may do to its own namespace without a grant. */
const OWN_RIGHTS = new Set(["read", "write", "delete", "link", "list"]);

/** Decides rights for processes from the kernel's grant table. */
export class Authorizer {
  readonly #grants: GrantTable;
  readonly #clock: Clock;

  constructor(grants: GrantTable, clock: Clock) {
    this.#grants = grants;
    this.#clock = clock;
  }

  /** The decision for `pid` holding `right` on `resource`, now. */
  decide(pid: Pid, resource: string, right: string): DecisionResult {
    if (OWN_RIGHTS.has(right)) {
      const own = `proc/${pid}`;
      if (resource === `ns:${own}` || resource.startsWith(`obj:${own}/`)) {
        return { decision: "allow", grant: null };
      }
    }
    return decide(this.#grants.of(pid), resource, right, this.#clock.now());
  }

  /**
   * Whether the deciding grant is explicit: it names the resource with no
   * wildcard. Special network addresses need one (no pattern reaches them).
   */
  explicit(result: DecisionResult): boolean {
    return result.decision === "allow" && result.grant !== null &&
      !/[*?]/.test(result.grant.resource);
  }
}
