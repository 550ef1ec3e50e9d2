/**
 * The PostgreSQL store's writes: a group of batches as one pipelined
 * transaction (a fence check per kernel first, then one multi-row statement
 * per table, `INSERT … SELECT` from one JSON text or from `unnest` of
 * arrays), how its statements ended,
 * and the batch-by-batch path a failed group is retried on, where each
 * mutation's failure is named.
 *
 * @module
 */
import type postgres from "postgres";
import { libosError } from "../errors.ts";
import type { Fence } from "./store.ts";
import { fencedError } from "./local_kernels.ts";
import { claimError, type EncodedMutation } from "./store_encoding.ts";

/** A batch waiting for the next group commit. */
export interface PgPending {
  ops: EncodedMutation[];
  fence: Fence | undefined;
}

/** A transaction. */
export type PgTx = postgres.TransactionSql;
/** A connection to run statements on: a transaction, or a reserved connection. */
type PgConn = PgTx | postgres.ReservedSql;

/**
 * Rows as one JSON text for `json_to_recordset` (keys are the column names):
 * the hot tables' rows travel as one parameter that JSON.stringify writes,
 * where array parameters are escaped element by element in JavaScript. The
 * statement casts it `::text::json` (a text parameter is sent as it is).
 */
function _rows(rows: readonly Record<string, unknown>[]): string {
  return JSON.stringify(rows);
}

/** A process put with the owner its batch's fence gives it (null: keep the stored owner). */
type _ProcessPut = EncodedMutation & { kind: "process.put"; owner?: string | null };

/** A group's ops, each process put carrying the owner its batch's fence gives it. */
export function owned(pending: readonly PgPending[]): EncodedMutation[] {
  return pending.flatMap((p) =>
    p.fence === undefined
      ? p.ops
      : p.ops.map((op) =>
        op.kind === "process.put" ? { ...op, owner: p.fence!.kernel } satisfies _ProcessPut : op
      )
  );
}

/**
 * One statement per fence of a group, first: it takes a share lock on the
 * kernel's row (so a kernel declared dead concurrently is ordered before or
 * after the whole group) and fails (division by zero) unless the kernel is
 * alive at the fence's epoch; the group is then retried batch by batch, where
 * {@linkcode _checkFence} names the problem.
 */
export function fenceStatements(tx: PgConn, pending: readonly PgPending[]): Promise<unknown>[] {
  const fences = new Map<string, Fence>();
  for (const p of pending) {
    if (p.fence !== undefined) fences.set(`${p.fence.kernel}@${p.fence.epoch}`, p.fence);
  }
  return [...fences.values()].map((f) =>
    tx`WITH k AS (SELECT epoch, state FROM kernels WHERE id = ${f.kernel} FOR SHARE)
      SELECT 1 / (SELECT count(*) FROM k WHERE epoch = ${f.epoch} AND state = 'alive')::int AS ok`
  );
}

/** Throws `EFENCED` unless the fence's kernel is alive at its epoch (a share lock on its row). */
async function _checkFence(tx: PgTx, fence: Fence): Promise<void> {
  const [row] = await tx`SELECT epoch, state FROM kernels WHERE id = ${fence.kernel} FOR SHARE`;
  if (row === undefined) throw fencedError(fence, "it is not registered");
  if (row.state !== "alive" || Number(row.epoch) !== fence.epoch) {
    throw fencedError(fence, `it is ${row.state} at epoch ${row.epoch}`);
  }
}

/**
 * A group's statements, one per table, sent at once. Puts keep the last
 * record per key (a later one in the same transaction replaces it anyway);
 * appends insert every row, so a duplicate key fails the group. A statement
 * fails rather than report a problem in its result, since the COMMIT is sent
 * before any result is read.
 */
export function groupStatements(tx: PgConn, ops: readonly EncodedMutation[]): Promise<unknown>[] {
  const processes = new Map<string, _ProcessPut>();
  const grants = new Map<string, EncodedMutation & { kind: "grant.put" }>();
  const human = new Map<string, EncodedMutation & { kind: "human.put" }>();
  const images = new Map<string, EncodedMutation & { kind: "image.put" }>();
  const meta = new Map<string, string>();
  const versions: (EncodedMutation & { kind: "object.put" })[] = [];
  const journal: (EncodedMutation & { kind: "journal.append" })[] = [];
  const audit: (EncodedMutation & { kind: "audit.append" })[] = [];
  const checkpoints: (EncodedMutation & { kind: "checkpoint.put" })[] = [];
  /** Rare kinds, run one by one after the tables' statements, in batch order. */
  const ordered: EncodedMutation[] = [];
  let deletes = false;
  for (const op of ops) {
    switch (op.kind) {
      case "process.put":
        processes.delete(op.pid);
        processes.set(op.pid, op);
        break;
      case "grant.put":
        grants.delete(op.id);
        grants.set(op.id, op);
        break;
      case "human.put":
        human.delete(op.id);
        human.set(op.id, op);
        break;
      case "image.put":
        images.delete(op.id);
        images.set(op.id, op);
        break;
      case "meta.put":
        meta.delete(op.key);
        meta.set(op.key, op.value);
        break;
      case "object.put":
        versions.push(op);
        break;
      case "object.delete":
        deletes = true;
        break;
      case "journal.append":
        journal.push(op);
        break;
      case "audit.append":
        audit.push(op);
        break;
      case "checkpoint.put":
        checkpoints.push(op);
        break;
      case "object.redact":
      case "journal.redact":
      case "command.put":
      case "command.purge":
      case "message.put":
      case "message.claim":
        ordered.push(op);
        break;
      default:
        op satisfies never;
    }
  }
  const q: Promise<unknown>[] = [];
  if (processes.size > 0) {
    const rows = [...processes.values()];
    // A put of a process another kernel owns updates nothing: the count
    // falls short and the statement fails, and with it the group.
    q.push(
      tx`WITH u AS (INSERT INTO processes (pid, state, parent_pid, body, owner)
        SELECT x.pid, x.state, x.parent_pid, x.body, x.owner FROM json_to_recordset(${
        _rows(rows.map((r) => ({
          pid: r.pid,
          state: r.state,
          parent_pid: r.parentPid,
          body: r.body,
          owner: r.owner ?? null,
        })))
      }::text::json) AS x (pid text, state text, parent_pid text, body text, owner text)
        ON CONFLICT (pid) DO UPDATE SET
          state = excluded.state, parent_pid = excluded.parent_pid, body = excluded.body,
          owner = COALESCE(excluded.owner, processes.owner)
        WHERE excluded.owner IS NULL OR processes.owner IS NULL OR processes.owner = excluded.owner
        RETURNING 1)
        SELECT 1 / (CASE WHEN count(*) = ${rows.length} THEN 1 ELSE 0 END) AS ok FROM u`,
    );
  }
  if (grants.size > 0) {
    const rows = [...grants.values()];
    q.push(
      tx`INSERT INTO grants (id, subject, body)
        SELECT * FROM unnest(${rows.map((r) => r.id)}::text[], ${
        rows.map((r) => r.subject)
      }::text[],
          ${rows.map((r) => r.body)}::text[])
        ON CONFLICT (id) DO UPDATE SET subject = excluded.subject, body = excluded.body`,
    );
  }
  if (human.size > 0) {
    const rows = [...human.values()];
    q.push(
      tx`INSERT INTO human (id, pid, state, body)
        SELECT * FROM unnest(${rows.map((r) => r.id)}::text[], ${rows.map((r) => r.pid)}::text[],
          ${rows.map((r) => r.state)}::text[], ${rows.map((r) => r.body)}::text[])
        ON CONFLICT (id) DO UPDATE SET
          pid = excluded.pid, state = excluded.state, body = excluded.body`,
    );
  }
  if (images.size > 0) {
    const rows = [...images.values()];
    q.push(
      tx`INSERT INTO images (id, body)
        SELECT * FROM unnest(${rows.map((r) => r.id)}::text[], ${rows.map((r) => r.body)}::text[])
        ON CONFLICT (id) DO UPDATE SET body = excluded.body`,
    );
  }
  if (meta.size > 0) {
    q.push(
      tx`INSERT INTO meta (key, value)
        SELECT * FROM unnest(${[...meta.keys()]}::text[], ${[...meta.values()]}::text[])
        ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    );
  }
  if (versions.length > 0) {
    q.push(
      tx`INSERT INTO object_versions (oid, version, namespace, name, body)
        SELECT * FROM unnest(${versions.map((r) => r.oid)}::text[], ${
        versions.map((r) => r.version)
      }::bigint[],
          ${versions.map((r) => r.namespace)}::text[], ${versions.map((r) => r.name)}::text[],
          ${versions.map((r) => r.body)}::text[])`,
    );
    if (deletes) {
      // A delete and a put of the same object depend on their order: keep it.
      for (const op of ops) {
        if (op.kind === "object.put") q.push(_putObjectHead(tx, op));
        if (op.kind === "object.delete") q.push(_deleteObjectOrFail(tx, op.oid));
      }
    } else {
      // Without deletes the head is the highest version put (if above the stored one).
      const heads = new Map<string, EncodedMutation & { kind: "object.put" }>();
      for (const op of versions) {
        const seen = heads.get(op.oid);
        if (seen === undefined || op.version > seen.version) heads.set(op.oid, op);
      }
      const rows = [...heads.values()];
      q.push(
        tx`INSERT INTO objects (oid, version, namespace, name, deleted)
          SELECT u.oid, u.version, u.namespace, u.name, false FROM unnest(
            ${rows.map((r) => r.oid)}::text[], ${rows.map((r) => r.version)}::bigint[],
            ${rows.map((r) => r.namespace)}::text[], ${rows.map((r) => r.name)}::text[])
            AS u (oid, version, namespace, name)
          ON CONFLICT (oid) DO UPDATE SET
            version = excluded.version, namespace = excluded.namespace, name = excluded.name,
            deleted = false
          WHERE excluded.version > objects.version`,
      );
    }
  } else if (deletes) {
    for (const op of ops) if (op.kind === "object.delete") q.push(_deleteObjectOrFail(tx, op.oid));
  }
  if (journal.length > 0) {
    q.push(
      tx`INSERT INTO journal (pid, seq, body)
        SELECT x.pid, x.seq, x.body FROM json_to_recordset(${
        _rows(journal.map((r) => ({ pid: r.pid, seq: r.seq, body: r.body })))
      }::text::json) AS x (pid text, seq bigint, body text)`,
    );
  }
  if (audit.length > 0) {
    q.push(
      tx`INSERT INTO audit (seq, pid, action, body, hash)
        SELECT x.seq, x.pid, x.action, x.body, x.hash FROM json_to_recordset(${
        _rows(audit.map((r) => ({
          seq: r.seq,
          pid: r.pid,
          action: r.action,
          body: r.body,
          hash: r.hash,
        })))
      }::text::json) AS x (seq bigint, pid text, action text, body text, hash text)`,
    );
  }
  if (checkpoints.length > 0) {
    q.push(
      tx`INSERT INTO checkpoints (id, pid, created_at, info, body)
        SELECT * FROM unnest(${checkpoints.map((r) => r.id)}::text[], ${
        checkpoints.map((r) => r.pid)
      }::text[],
          ${checkpoints.map((r) => r.createdAt)}::bigint[], ${
        checkpoints.map((r) => r.info)
      }::text[],
          ${checkpoints.map((r) => r.body)}::text[])`,
    );
    const members = checkpoints.flatMap((c) => c.pids.map((pid) => [c.id, pid] as const));
    if (members.length > 0) {
      q.push(
        tx`INSERT INTO checkpoint_members (id, pid)
          SELECT * FROM unnest(${members.map((m) => m[0])}::text[], ${
          members.map((m) => m[1])
        }::text[])`,
      );
    }
  }
  // A redact that finds nothing fails (division by zero), so that the group is
  // retried batch by batch, where writeInOrder names the problem.
  for (const op of ordered) {
    if (op.kind === "object.redact") {
      q.push(tx`WITH r AS (UPDATE object_versions SET body = ${op.body}
          WHERE oid = ${op.oid} AND version = ${op.version} RETURNING oid)
        SELECT 1 / count(*)::int AS found FROM r`);
    } else if (op.kind === "journal.redact") {
      q.push(tx`WITH r AS (UPDATE journal SET body = ${op.body}
          WHERE pid = ${op.pid} AND seq = ${op.seq} RETURNING pid)
        SELECT 1 / count(*)::int AS found FROM r`);
    } else if (op.kind === "message.claim") {
      // A claim another call holds fails the group (division by zero), so
      // that it is retried batch by batch, where _claimMessage names it.
      q.push(tx`WITH c AS (UPDATE messages SET claimed_by = ${op.pid}, claim_key = ${op.key},
            claimed_at = COALESCE(claimed_at, ${op.at})
          WHERE id = ${op.id}
            AND (claimed_by IS NULL OR (claimed_by = ${op.pid} AND claim_key = ${op.key}))
          RETURNING id)
        SELECT 1 / count(*)::int AS found FROM c`);
    } else q.push(_writeOther(tx, op));
  }
  return q;
}

/**
 * Claims a message, naming why it cannot (another call holds it, or it is
 * missing). The conditional UPDATE takes an unclaimed message, or finds it
 * claimed by this very call; under READ COMMITTED a second kernel's claim of
 * the same row waits for the first's transaction, then matches nothing.
 */
async function _claimMessage(
  tx: PgTx,
  op: EncodedMutation & { kind: "message.claim" },
): Promise<void> {
  const r = await _unique(
    tx`UPDATE messages SET claimed_by = ${op.pid}, claim_key = ${op.key},
        claimed_at = COALESCE(claimed_at, ${op.at})
      WHERE id = ${op.id}
        AND (claimed_by IS NULL OR (claimed_by = ${op.pid} AND claim_key = ${op.key}))`,
    () =>
      `Cannot claim message '${op.id}': receive ${op.key} of process ${op.pid} claimed another already`,
  );
  if ((r as { count: number }).count > 0) return;
  const [row] = await tx`SELECT claimed_by, claim_key FROM messages WHERE id = ${op.id}`;
  throw claimError(
    op.id,
    row === undefined ? null : {
      claimedBy: row.claimed_by === null ? null : String(row.claimed_by),
      claimKey: row.claim_key === null ? null : String(row.claim_key),
    },
  );
}

/** The statement of a command record's put or purge, or of a message's put. */
function _writeOther(tx: PgConn, op: EncodedMutation): Promise<unknown> {
  if (op.kind === "command.put") {
    return tx`INSERT INTO commands (id, expires_at, body)
      VALUES (${op.id}, ${op.expiresAt}, ${op.body})
      ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at, body = excluded.body`;
  }
  if (op.kind === "command.purge") {
    return tx`DELETE FROM commands WHERE expires_at <= ${op.before}`;
  }
  if (op.kind === "message.put") {
    return tx`INSERT INTO messages
      (id, seq, channel, sender, sent_at, claimed_by, claim_key, claimed_at, body)
      VALUES (${op.id}, ${op.seq}, ${op.channel}, ${op.sender}, ${op.sentAt}, ${op.claimedBy},
        ${op.claimKey}, ${op.claimedAt}, ${op.body})`;
  }
  throw new TypeError(`_writeOther: not a command or message mutation: ${op.kind}`);
}

/** How a group's pipelined statements ended. */
interface _Settled {
  /** The first failure, or null. */
  error: unknown;
  /** Whether the connection was lost (statements still queued behind it never run). */
  lost: boolean;
  /** The last statement's result, when all succeeded. */
  last: unknown;
}

/**
 * Waits for every statement of a group, or for the first that failed because
 * the connection was lost: postgres.js never runs, nor settles, the statements
 * still queued on a reserved connection that closed.
 */
export function settle(statements: readonly Promise<unknown>[]): Promise<_Settled> {
  return new Promise((resolve) => {
    let left = statements.length;
    let error: unknown = null;
    let done = false;
    const finish = (settled: _Settled) => {
      if (done) return;
      done = true;
      resolve(settled);
    };
    statements.forEach((statement, i) => {
      statement.then(
        (value) => {
          if (--left === 0) {
            finish({ error, lost: false, last: i === statements.length - 1 ? value : undefined });
          }
        },
        (reason: unknown) => {
          if (_connectionLost(reason)) finish({ error: reason, lost: true, last: undefined });
          // The first failure is the cause; the statements after it fail as "aborted".
          error ??= reason;
          if (--left === 0) finish({ error, lost: false, last: undefined });
        },
      );
    });
  });
}

/** Whether an error says the connection itself failed (not a statement on it). */
function _connectionLost(error: unknown): boolean {
  // A statement's error from the server (the driver's PostgresError, by name:
  // the driver is loaded on demand).
  if (error instanceof Error && error.name === "PostgresError") return false;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" &&
    (code.startsWith("CONNECTION_") || code === "CONNECT_TIMEOUT" || /^E[A-Z]+$/.test(code));
}

/** Writes one batch statement by statement, in order: a failure names its mutation. */
export async function writeInOrder(
  tx: PgTx,
  ops: readonly EncodedMutation[],
  fence: Fence | undefined,
): Promise<void> {
  if (fence !== undefined) await _checkFence(tx, fence);
  const owner = fence?.kernel ?? null;
  for (const op of ops) {
    switch (op.kind) {
      case "process.put": {
        const r = await tx`INSERT INTO processes (pid, state, parent_pid, body, owner)
          VALUES (${op.pid}, ${op.state}, ${op.parentPid}, ${op.body}, ${owner})
          ON CONFLICT (pid) DO UPDATE SET
            state = excluded.state, parent_pid = excluded.parent_pid, body = excluded.body,
            owner = COALESCE(excluded.owner, processes.owner)
          WHERE excluded.owner IS NULL OR processes.owner IS NULL
            OR processes.owner = excluded.owner`;
        if (r.count === 0) {
          throw libosError(
            "EFENCED",
            `Cannot put process '${op.pid}' as kernel '${owner}': another kernel owns it`,
            { pid: op.pid },
          );
        }
        break;
      }
      case "grant.put":
        await tx`INSERT INTO grants (id, subject, body) VALUES (${op.id}, ${op.subject}, ${op.body})
          ON CONFLICT (id) DO UPDATE SET subject = excluded.subject, body = excluded.body`;
        break;
      case "object.put":
        await _unique(
          tx`INSERT INTO object_versions (oid, version, namespace, name, body)
            VALUES (${op.oid}, ${op.version}, ${op.namespace}, ${op.name}, ${op.body})`,
          () => `Cannot put object '${op.oid}': version ${op.version} exists already`,
        );
        await _putObjectHead(tx, op);
        break;
      case "object.delete":
        await _deleteObject(tx, op.oid);
        break;
      case "journal.append":
        await _unique(
          tx`INSERT INTO journal (pid, seq, body) VALUES (${op.pid}, ${op.seq}, ${op.body})`,
          () => `Cannot append journal entry '${op.pid}#${op.seq}': that seq exists already`,
          { pid: op.pid },
        );
        break;
      case "audit.append":
        await _unique(
          tx`INSERT INTO audit (seq, pid, action, body, hash)
            VALUES (${op.seq}, ${op.pid}, ${op.action}, ${op.body}, ${op.hash})`,
          () => `Cannot append audit record '${op.seq}': that seq exists already`,
        );
        break;
      case "human.put":
        await tx`INSERT INTO human (id, pid, state, body)
          VALUES (${op.id}, ${op.pid}, ${op.state}, ${op.body})
          ON CONFLICT (id) DO UPDATE SET
            pid = excluded.pid, state = excluded.state, body = excluded.body`;
        break;
      case "image.put":
        await tx`INSERT INTO images (id, body) VALUES (${op.id}, ${op.body})
          ON CONFLICT (id) DO UPDATE SET body = excluded.body`;
        break;
      case "meta.put":
        await tx`INSERT INTO meta (key, value) VALUES (${op.key}, ${op.value})
          ON CONFLICT (key) DO UPDATE SET value = excluded.value`;
        break;
      case "checkpoint.put":
        await _unique(
          tx`INSERT INTO checkpoints (id, pid, created_at, info, body)
            VALUES (${op.id}, ${op.pid}, ${op.createdAt}, ${op.info}, ${op.body})`,
          () => `Cannot put checkpoint '${op.id}': it exists already`,
        );
        for (const pid of op.pids) {
          await tx`INSERT INTO checkpoint_members (id, pid) VALUES (${op.id}, ${pid})`;
        }
        break;
      case "object.redact": {
        const r = await tx`UPDATE object_versions SET body = ${op.body}
          WHERE oid = ${op.oid} AND version = ${op.version}`;
        if (r.count === 0) {
          throw libosError(
            "ENOENT",
            `Cannot redact object '${op.oid}': it has no version ${op.version}`,
          );
        }
        break;
      }
      case "journal.redact": {
        const r = await tx`UPDATE journal SET body = ${op.body}
          WHERE pid = ${op.pid} AND seq = ${op.seq}`;
        if (r.count === 0) {
          throw libosError(
            "ENOENT",
            `Cannot redact journal entry '${op.pid}#${op.seq}': no such entry`,
            { pid: op.pid },
          );
        }
        break;
      }
      case "command.put":
      case "command.purge":
        await _writeOther(tx, op);
        break;
      case "message.put":
        await _unique(
          _writeOther(tx, op),
          () => `Cannot put message '${op.id}': it exists already`,
        );
        break;
      case "message.claim":
        await _claimMessage(tx, op);
        break;
      default:
        op satisfies never;
    }
  }
}

/** The head follows the highest version; a new version revives a deleted object. */
function _putObjectHead(
  tx: PgConn,
  op: EncodedMutation & { kind: "object.put" },
): Promise<unknown> {
  return tx`INSERT INTO objects (oid, version, namespace, name, deleted)
    VALUES (${op.oid}, ${op.version}, ${op.namespace}, ${op.name}, false)
    ON CONFLICT (oid) DO UPDATE SET
      version = excluded.version, namespace = excluded.namespace, name = excluded.name,
      deleted = false
    WHERE excluded.version > objects.version`;
}

/**
 * Marks an object deleted; the statement fails (division by zero) when no
 * object has that oid, so that the group rolls back and is retried batch by
 * batch, where {@linkcode _deleteObject} names the problem.
 */
function _deleteObjectOrFail(tx: PgConn, oid: string): Promise<unknown> {
  return tx`WITH d AS (UPDATE objects SET deleted = true WHERE oid = ${oid} RETURNING oid)
    SELECT 1 / count(*)::int AS found FROM d`;
}

async function _deleteObject(tx: PgTx, oid: string): Promise<void> {
  const result = await tx`UPDATE objects SET deleted = true WHERE oid = ${oid}`;
  if (result.count === 0) {
    throw libosError("ENOENT", `Cannot delete object '${oid}': no such object`);
  }
}

/** Runs an insert, turning a key conflict (SQLSTATE 23505) into `EEXIST`. */
async function _unique(
  insert: Promise<unknown>,
  message: () => string,
  fields?: Record<string, string>,
): Promise<unknown> {
  try {
    return await insert;
  } catch (error) {
    if ((error as { code?: unknown }).code === "23505") {
      throw libosError("EEXIST", message(), fields, error);
    }
    throw error;
  }
}
