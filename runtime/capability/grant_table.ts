/**
 * The kernel's live capability grants, indexed by subject. Decisions are made
 * by the pure functions of `capability.ts`; this table only holds the data and
 * answers lineage questions (what derives from a grant) for cascading revoke.
 *
 * @module
 */
import type { Grant, Pid } from "../types.ts";

/** All grants of a kernel, indexed by id and by subject. */
export class GrantTable {
  #byId = new Map<string, Grant>();
  #bySubject = new Map<Pid, Grant[]>();
  #children = new Map<string, string[]>();

  /** Loads grants at boot. */
  load(grants: Iterable<Grant>): void {
    for (const g of grants) this.put(g);
  }

  /** Adds or replaces a grant (the same object stays shared by both indexes). */
  put(grant: Grant): void {
    const old = this.#byId.get(grant.id);
    if (old !== undefined) {
      Object.assign(old, grant);
      return;
    }
    this.#byId.set(grant.id, grant);
    const list = this.#bySubject.get(grant.subject);
    if (list === undefined) this.#bySubject.set(grant.subject, [grant]);
    else list.push(grant);
    if (grant.parentId !== null) {
      const kids = this.#children.get(grant.parentId);
      if (kids === undefined) this.#children.set(grant.parentId, [grant.id]);
      else kids.push(grant.id);
    }
  }

  /** The grant with this id, if any. */
  get(id: string): Grant | undefined {
    return this.#byId.get(id);
  }

  /** Every grant a subject holds (live or not). */
  of(subject: Pid): readonly Grant[] {
    return this.#bySubject.get(subject) ?? [];
  }

  /** The grant and every grant derived from it, transitively (breadth first). */
  lineageOf(id: string): Grant[] {
    const out: Grant[] = [];
    const queue = [id];
    const seen = new Set<string>();
    while (queue.length > 0) {
      const next = queue.shift() as string;
      if (seen.has(next)) continue;
      seen.add(next);
      const g = this.#byId.get(next);
      if (g !== undefined) out.push(g);
      queue.push(...(this.#children.get(next) ?? []));
    }
    return out;
  }

  /** Number of grants. */
  get size(): number {
    return this.#byId.size;
  }
}
