/**
 * The encoding the SQL stores (SQLite, PostgreSQL) share: a mutation checked
 * and turned into the row values it writes, its records as JSON text, at
 * `apply` time (so a caller may change its objects as soon as `apply` returns).
 *
 * @module
 */
import { libosError } from "../errors.ts";
import type { Mutation } from "./store.ts";
import type { MessageRecord } from "../types.ts";
import { auditKeys, mutationKey, mutationSeq } from "./store_checks.ts";

/** A mutation encoded at `apply` time: its keys checked, its bodies JSON text. */
export type EncodedMutation =
  | { kind: "process.put"; pid: string; state: string; parentPid: string | null; body: string }
  | { kind: "grant.put"; id: string; subject: string; body: string }
  | {
    kind: "object.put";
    oid: string;
    version: number;
    namespace: string;
    name: string;
    body: string;
  }
  | { kind: "object.delete"; oid: string }
  | { kind: "object.redact"; oid: string; version: number; body: string }
  | { kind: "journal.append"; pid: string; seq: number; body: string }
  | { kind: "journal.redact"; pid: string; seq: number; body: string }
  | {
    kind: "audit.append";
    seq: number;
    pid: string | null;
    action: string | null;
    body: string;
    hash: string;
  }
  | { kind: "human.put"; id: string; pid: string; state: string; body: string }
  | { kind: "image.put"; id: string; body: string }
  | { kind: "meta.put"; key: string; value: string }
  | {
    kind: "checkpoint.put";
    id: string;
    pid: string;
    pids: string[];
    createdAt: number;
    info: string;
    body: string;
  }
  | { kind: "command.put"; id: string; expiresAt: number; body: string }
  | { kind: "command.purge"; before: number }
  | {
    kind: "message.put";
    id: string;
    seq: number;
    channel: string;
    sender: string | null;
    sentAt: number;
    claimedBy: string | null;
    claimKey: string | null;
    claimedAt: number | null;
    /** The record without its claim (kept in the columns). */
    body: string;
  }
  | { kind: "message.claim"; id: string; pid: string; key: string; at: number };

/**
 * A SQL store's batch as it is queued: refused whole when the store is closed
 * or read-only (`ESTATE`, naming the store) or a mutation is malformed.
 */
export function encodeBatch(
  store: { location: string; closed: boolean; readOnly: boolean },
  batch: readonly Mutation[],
): EncodedMutation[] {
  const why = store.closed
    ? "the store is closed"
    : store.readOnly
    ? "the store is open read-only"
    : null;
  if (why !== null) {
    throw libosError("ESTATE", `Cannot apply a batch to store '${store.location}': ${why}`);
  }
  return batch.map(encodeMutation);
}

/** Checks a mutation's keys and encodes its bodies. */
export function encodeMutation(m: Mutation): EncodedMutation {
  switch (m.kind) {
    case "process.put": {
      const p = m.process;
      return {
        kind: m.kind,
        pid: mutationKey(p.pid, m.kind, "pid"),
        state: mutationKey(p.state, m.kind, "state"),
        parentPid: p.parentPid === null ? null : mutationKey(p.parentPid, m.kind, "parentPid"),
        body: _json(p, m.kind),
      };
    }
    case "grant.put": {
      const g = m.grant;
      return {
        kind: m.kind,
        id: mutationKey(g.id, m.kind, "id"),
        subject: mutationKey(g.subject, m.kind, "subject"),
        body: _json(g, m.kind),
      };
    }
    case "object.put": {
      const o = m.object;
      return {
        kind: m.kind,
        oid: mutationKey(o.oid, m.kind, "oid"),
        version: mutationSeq(o.version, m.kind, "version"),
        namespace: mutationKey(o.namespace, m.kind, "namespace"),
        name: mutationKey(o.name, m.kind, "name"),
        body: _json(o, m.kind),
      };
    }
    case "object.delete":
      return { kind: m.kind, oid: mutationKey(m.oid, m.kind, "oid") };
    case "object.redact": {
      const o = m.object;
      return {
        kind: m.kind,
        oid: mutationKey(o.oid, m.kind, "oid"),
        version: mutationSeq(o.version, m.kind, "version"),
        body: _json(o, m.kind),
      };
    }
    case "journal.append":
    case "journal.redact": {
      const e = m.entry;
      return {
        kind: m.kind,
        pid: mutationKey(e.pid, m.kind, "pid"),
        seq: mutationSeq(e.seq, m.kind, "seq"),
        body: _json(e, m.kind),
      };
    }
    case "audit.append": {
      const r = m.record;
      const { pid, action } = auditKeys(r);
      return {
        kind: m.kind,
        seq: mutationSeq(r.seq, m.kind, "seq"),
        pid,
        action,
        body: r.body,
        hash: mutationKey(r.hash, m.kind, "hash"),
      };
    }
    case "human.put": {
      const h = m.request;
      return {
        kind: m.kind,
        id: mutationKey(h.id, m.kind, "id"),
        pid: mutationKey(h.pid, m.kind, "pid"),
        state: mutationKey(h.state, m.kind, "state"),
        body: _json(h, m.kind),
      };
    }
    case "image.put": {
      const i = m.image;
      return { kind: m.kind, id: mutationKey(i.id, m.kind, "id"), body: _json(i, m.kind) };
    }
    case "meta.put":
      return {
        kind: m.kind,
        key: mutationKey(m.key, m.kind, "key"),
        value: _json(m.value, m.kind),
      };
    case "checkpoint.put": {
      const c = m.checkpoint;
      const { content: _content, ...info } = c;
      return {
        kind: m.kind,
        id: mutationKey(c.id, m.kind, "id"),
        pid: mutationKey(c.pid, m.kind, "pid"),
        pids: c.pids.map((pid) => mutationKey(pid, m.kind, "pids")),
        createdAt: mutationSeq(c.createdAt, m.kind, "createdAt"),
        info: _json(info, m.kind),
        body: _json(c, m.kind),
      };
    }
    case "command.put": {
      const c = m.command;
      return {
        kind: m.kind,
        id: mutationKey(c.id, m.kind, "id"),
        expiresAt: mutationSeq(c.expiresAt, m.kind, "expiresAt"),
        body: _json(c, m.kind),
      };
    }
    case "command.purge":
      return { kind: m.kind, before: mutationSeq(m.before, m.kind, "before") };
    case "message.put": {
      const { claimedBy, claimKey, claimedAt, ...rest } = m.message;
      return {
        kind: m.kind,
        id: mutationKey(rest.id, m.kind, "id"),
        seq: mutationSeq(rest.seq, m.kind, "seq"),
        channel: mutationKey(rest.channel, m.kind, "channel"),
        sender: rest.sender === null ? null : mutationKey(rest.sender, m.kind, "sender"),
        sentAt: mutationSeq(rest.sentAt, m.kind, "sentAt"),
        claimedBy: claimedBy === null ? null : mutationKey(claimedBy, m.kind, "claimedBy"),
        claimKey: claimKey === null ? null : mutationKey(claimKey, m.kind, "claimKey"),
        claimedAt: claimedAt === null ? null : mutationSeq(claimedAt, m.kind, "claimedAt"),
        body: _json(rest, m.kind),
      };
    }
    case "message.claim":
      return {
        kind: m.kind,
        id: mutationKey(m.id, m.kind, "id"),
        pid: mutationKey(m.pid, m.kind, "pid"),
        key: mutationKey(m.key, m.kind, "key"),
        at: mutationSeq(m.at, m.kind, "at"),
      };
    default: {
      const kind = (m as { kind?: unknown }).kind;
      throw libosError("EINVAL", `Cannot apply mutation '${String(kind)}': unknown kind`);
    }
  }
}

function _json(value: unknown, kind: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw libosError("EINVAL", `Cannot apply '${kind}': ${_message(error)}`, {}, error);
  }
  if (text === undefined) {
    throw libosError("EINVAL", `Cannot apply '${kind}': the value has no JSON encoding`);
  }
  return text;
}

function _message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A stored message row back as its record. */
export function decodeMessage(row: Record<string, unknown>): MessageRecord {
  const m = JSON.parse(String(row["body"])) as MessageRecord;
  const opt = (v: unknown) => v === null || v === undefined ? null : v;
  m.claimedBy = opt(row["claimed_by"]) === null ? null : String(row["claimed_by"]);
  m.claimKey = opt(row["claim_key"]) === null ? null : String(row["claim_key"]);
  m.claimedAt = opt(row["claimed_at"]) === null ? null : Number(row["claimed_at"]);
  return m;
}

/** The error of a claim that failed: the message is missing, or another call holds it. */
export function claimError(
  id: string,
  held: { claimedBy: string | null; claimKey: string | null } | null,
): Error {
  if (held === null) return libosError("ENOENT", `Cannot claim message '${id}': no such message`);
  return libosError(
    "EBUSY",
    `Cannot claim message '${id}': receive ${held.claimKey} of process ${held.claimedBy} claimed it already`,
  );
}
