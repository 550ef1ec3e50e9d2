/**
 * Revisions: every process, grant and human request the API shows carries a
 * `revision` (also its `ETag`), a digest of the object as it stands, so it
 * changes with every change. Answers, signals, restores and revokes accept
 * `If-Match`: a stale one gets `412` with the current object, and nothing
 * changes (the check and the change run in one turn of the event loop).
 *
 * @module
 */
import { canonicalJson, sha256Hex } from "../runtime/mod.ts";

/** The revision of an object as the API shows it. */
export function revisionOf(value: unknown): string {
  return sha256Hex(canonicalJson(value)).slice(0, 20);
}

/** The object with its revision. */
export function withRevision<T extends object>(value: T): T & { revision: string } {
  return { ...value, revision: revisionOf(value) };
}

/** The `ETag` of a revision. */
export function etag(revision: string): string {
  return `"${revision}"`;
}

/** An `If-Match` that names another revision: answered `412` with the current object. */
export class RevisionMismatch extends Error {
  readonly current: object & { revision: string };
  constructor(current: object & { revision: string }) {
    super(
      `Cannot apply the request: If-Match names another revision than the current one (${current.revision}); read it again`,
    );
    this.name = "RevisionMismatch";
    this.current = current;
  }
}

/**
 * Throws {@linkcode RevisionMismatch} unless `header` (an `If-Match` value:
 * `*`, or one or more quoted or bare revisions, `W/` allowed) names the
 * current object's revision. No header: no condition.
 */
export function checkIfMatch(header: string | undefined, current: object): void {
  if (header === undefined) return;
  const now = withRevision(current);
  const named = header.split(",").map((t) => t.trim().replace(/^W\//, "").replace(/^"|"$/g, ""));
  if (named.includes("*") || named.includes(now.revision)) return;
  throw new RevisionMismatch(now);
}
