/**
 * Checks every {@linkcode Store} makes of a mutation before it applies it, so
 * that both stores refuse the same bad input with the same message.
 *
 * @module
 */
import { libosError } from "../errors.ts";
import type { Grant, HumanRequest, ProcessRecord, StoredAudit } from "../types.ts";
import type { GrantQuery, HumanQuery, LoadOptions, ProcessQuery, StoreSnapshot } from "./store.ts";

/** The pid and action an audit record's body names (the body is canonical JSON). */
export function auditKeys(record: StoredAudit): { pid: string | null; action: string | null } {
  let body: unknown;
  try {
    body = typeof record.body === "string" ? JSON.parse(record.body) : undefined;
  } catch {
    body = undefined;
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw libosError(
      "EINVAL",
      `Cannot append audit record '${record.seq}': its body is not a JSON object`,
    );
  }
  const { pid, action } = body as { pid?: unknown; action?: unknown };
  return {
    pid: typeof pid === "string" ? pid : null,
    action: typeof action === "string" ? action : null,
  };
}

/** A mutation field that must be a non-empty string. */
export function mutationKey(value: unknown, kind: string, field: string): string {
  if (typeof value === "string" && value !== "") return value;
  throw libosError(
    "EINVAL",
    `Cannot apply '${kind}': ${field} must be a non-empty string, got ${typeof value}`,
    { field },
  );
}

/** A mutation field that must be a non-negative integer. */
export function mutationSeq(value: unknown, kind: string, field: string): number {
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return value;
  throw libosError(
    "EINVAL",
    `Cannot apply '${kind}': ${field} must be a non-negative integer, got ${String(value)}`,
    { field },
  );
}

/** A query's `afterSeq`: any number but NaN (default 0). */
export function queryAfterSeq(value: number | undefined): number {
  if (value === undefined) return 0;
  if (typeof value === "number" && !Number.isNaN(value)) return value;
  throw new RangeError(`afterSeq must be a number, got ${String(value)}`);
}

/** A query's `limit`: a non-negative integer, or `fallback` when absent. */
export function queryLimit(value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (Number.isSafeInteger(value) && value >= 0) return value;
  throw new RangeError(`limit must be a non-negative integer, got ${String(value)}`);
}

/** Checks `reserveIds`' arguments (a `RangeError` names the bad one). */
export function checkReserve(kind: string, count: number, atLeast: number | undefined): void {
  if (typeof kind !== "string" || !/^[a-z][a-z0-9_]*$/.test(kind)) {
    throw new RangeError(`Cannot reserve ids: kind must be a lowercase name, got ${String(kind)}`);
  }
  if (!(Number.isSafeInteger(count) && count >= 1)) {
    throw new RangeError(
      `Cannot reserve '${kind}' ids: count must be an integer >= 1, got ${count}`,
    );
  }
  if (atLeast !== undefined && !(Number.isSafeInteger(atLeast) && atLeast >= 0)) {
    throw new RangeError(
      `Cannot reserve '${kind}' ids: atLeast must be an integer >= 0, got ${atLeast}`,
    );
  }
}

/**
 * A snapshot narrowed to `options.pids` (what an adopting kernel loads); a
 * store that holds one kernel at a time ignores `options.owner`.
 */
export function narrowSnapshot(snapshot: StoreSnapshot, options: LoadOptions): StoreSnapshot {
  if (options.pids === undefined) return snapshot;
  const pids = new Set(options.pids);
  return {
    ...snapshot,
    processes: snapshot.processes.filter((p) => pids.has(p.pid)),
    grants: snapshot.grants.filter((g) => pids.has(g.subject)),
    human: snapshot.human.filter((r) => pids.has(r.pid)),
    journalHeads: Object.fromEntries(
      Object.entries(snapshot.journalHeads).filter(([pid]) => pids.has(pid)),
    ),
  };
}

/** Whether a process record matches a {@linkcode ProcessQuery}. */
export function matchesProcess(p: ProcessRecord, query: ProcessQuery): boolean {
  return (query.pids === undefined || query.pids.includes(p.pid)) &&
    (query.state === undefined || p.state === query.state) &&
    (query.parent === undefined || p.parentPid === query.parent);
}

/** Whether a human request matches a {@linkcode HumanQuery}. */
export function matchesHuman(r: HumanRequest, query: HumanQuery): boolean {
  return (query.ids === undefined || query.ids.includes(r.id)) &&
    (query.state === undefined || r.state === query.state) &&
    (query.pid === undefined || r.pid === query.pid);
}

/** Whether a grant matches a {@linkcode GrantQuery}. */
export function matchesGrant(g: Grant, query: GrantQuery): boolean {
  return (query.ids === undefined || query.ids.includes(g.id)) &&
    (query.subject === undefined || g.subject === query.subject);
}

/** Sorted by a string key (the stores' `ORDER BY` of text keys). */
export function sortByKey<T>(values: T[], key: (value: T) => string): T[] {
  return values.sort((a, b) => key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
}
