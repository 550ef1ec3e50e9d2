/**
 * The embedded store's SQL writes: the prepared statements, one mutation's
 * SQL, a group of batches committed in one transaction, and the id counters.
 *
 * @module
 */
import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";
import { LibosError, libosError } from "../errors.ts";
import { claimError, type EncodedMutation } from "./store_encoding.ts";

/** The prepared write statements of one connection. */
export type WriteStatements = ReturnType<typeof prepareWrites>;

/** The settings of the connection that opens a store to write: WAL, then {@linkcode connectionPragmas}. */
export function writerPragmas(db: DatabaseSync, busyTimeoutMs: number): void {
  db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
  db.exec("PRAGMA journal_mode = WAL");
  connectionPragmas(db, busyTimeoutMs);
}

/**
 * The settings of each connection that writes (the journal mode belongs to
 * the database, set by the first): every commit fsynced, freed space zeroed.
 */
export function connectionPragmas(db: DatabaseSync, busyTimeoutMs: number): void {
  db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
  db.exec("PRAGMA foreign_keys = ON");
  db.exec("PRAGMA synchronous = FULL");
  // A row rewritten or deleted (a purged body) leaves zeros, not its old
  // text, in the database file's free space; see README "Retention".
  db.exec("PRAGMA secure_delete = ON");
}

/**
 * Commits `batches` in one transaction, in order; when that fails, each on
 * its own, so that only a bad batch is refused. Returns each batch's error
 * (null when it committed) and the number of transactions begun.
 */
export function commitGroup(
  db: DatabaseSync,
  s: WriteStatements,
  path: string,
  batches: readonly (readonly EncodedMutation[])[],
): { errors: (LibosError | null)[]; transactions: number } {
  const all = _transact(db, s, path, batches);
  if (all === null) return { errors: batches.map(() => null), transactions: 1 };
  if (batches.length === 1) return { errors: [all], transactions: 1 };
  return {
    errors: batches.map((batch) => _transact(db, s, path, [batch])),
    transactions: 1 + batches.length,
  };
}

/** Runs one write transaction; returns the error that rolled it back, or null. */
function _transact(
  db: DatabaseSync,
  s: WriteStatements,
  path: string,
  batches: readonly (readonly EncodedMutation[])[],
): LibosError | null {
  try {
    // In one transaction only the last put of a process matters (a step's
    // result and the next step's intent both put it): the others are skipped.
    const last = batches.length > 1 ? _lastPuts(batches) : null;
    s.begin.run();
    for (const batch of batches) {
      for (const op of batch) {
        if (last !== null && op.kind === "process.put" && last.get(op.pid) !== op) continue;
        _runOp(s, op);
      }
    }
    s.commit.run();
    return null;
  } catch (error) {
    try {
      if (db.isTransaction) s.rollback.run();
    } catch {
      // SQLite has rolled back already (for instance after an I/O error).
    }
    if (error instanceof LibosError) return error;
    return libosError(
      "EINTERNAL",
      `Cannot commit to store '${path}': ${writeMessage(error)}`,
      { path },
      error,
    );
  }
}

/** The last `process.put` of each process in `batches`. */
function _lastPuts(batches: readonly (readonly EncodedMutation[])[]): Map<string, EncodedMutation> {
  const last = new Map<string, EncodedMutation>();
  for (const batch of batches) {
    for (const op of batch) if (op.kind === "process.put") last.set(op.pid, op);
  }
  return last;
}

/** Runs `write` in a small transaction of its own. */
function _writeTransaction<T>(db: DatabaseSync, s: WriteStatements, write: () => T): T {
  s.begin.run();
  try {
    const result = write();
    s.commit.run();
    return result;
  } catch (error) {
    if (db.isTransaction) s.rollback.run();
    throw error;
  }
}

/** Reserves `count` ids of `kind` (checked by the caller); the first. */
export function reserveIdsIn(
  db: DatabaseSync,
  s: WriteStatements,
  kind: string,
  count: number,
  atLeast: number | undefined,
  reset: boolean,
): number {
  return _writeTransaction(db, s, () => {
    const row = db.prepare("SELECT last FROM ids WHERE kind = ?").get(kind);
    const last = reset ? atLeast ?? 0 : Math.max(Number(row?.last ?? 0), atLeast ?? 0);
    db.prepare(
      `INSERT INTO ids (kind, last) VALUES (?, ?)
       ON CONFLICT (kind) DO UPDATE SET last = excluded.last`,
    ).run(kind, last + count);
    return last + 1;
  });
}

/** Gives back `from … end - 1` of the last block of `kind`. */
export function releaseIdsIn(
  db: DatabaseSync,
  s: WriteStatements,
  kind: string,
  from: number,
  end: number,
): void {
  _writeTransaction(db, s, () => {
    db.prepare("UPDATE ids SET last = ? WHERE kind = ? AND last = ?").run(from - 1, kind, end - 1);
  });
}

/** The text of a thrown value. */
export function writeMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Prepares the write statements once. */
export function prepareWrites(db: DatabaseSync) {
  const p = (sql: string) => db.prepare(sql);
  return {
    begin: p("BEGIN IMMEDIATE"),
    commit: p("COMMIT"),
    rollback: p("ROLLBACK"),
    // A process's parent never changes once it is stored: the usual put
    // rewrites its row in place and leaves the parent index alone.
    updateProcess: p(
      "UPDATE processes SET state = ?, body = ? WHERE pid = ? AND parent_pid IS ?",
    ),
    putProcess: p(
      `INSERT INTO processes (pid, state, parent_pid, body) VALUES (?, ?, ?, ?)
       ON CONFLICT (pid) DO UPDATE SET
         state = excluded.state, parent_pid = excluded.parent_pid, body = excluded.body`,
    ),
    putGrant: p(
      `INSERT INTO grants (id, subject, body) VALUES (?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET subject = excluded.subject, body = excluded.body`,
    ),
    insertObjectVersion: p(
      "INSERT INTO object_versions (oid, version, namespace, name, body) VALUES (?, ?, ?, ?, ?)",
    ),
    // The head follows the highest version; a new version revives a deleted object.
    putObjectHead: p(
      `INSERT INTO objects (oid, version, namespace, name, deleted) VALUES (?, ?, ?, ?, 0)
       ON CONFLICT (oid) DO UPDATE SET
         version = excluded.version, namespace = excluded.namespace, name = excluded.name,
         deleted = 0
       WHERE excluded.version > objects.version`,
    ),
    deleteObject: p("UPDATE objects SET deleted = 1 WHERE oid = ?"),
    redactObjectVersion: p("UPDATE object_versions SET body = ? WHERE oid = ? AND version = ?"),
    redactJournal: p("UPDATE journal SET body = ? WHERE pid = ? AND seq = ?"),
    appendJournal: p("INSERT INTO journal (pid, seq, body) VALUES (?, ?, ?)"),
    appendAudit: p("INSERT INTO audit (seq, pid, action, body, hash) VALUES (?, ?, ?, ?, ?)"),
    putHuman: p(
      `INSERT INTO human (id, pid, state, body) VALUES (?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, state = excluded.state, body = excluded.body`,
    ),
    putImage: p(
      `INSERT INTO images (id, body) VALUES (?, ?)
       ON CONFLICT (id) DO UPDATE SET body = excluded.body`,
    ),
    putMeta: p(
      `INSERT INTO meta (key, value) VALUES (?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    ),
    insertCheckpoint: p(
      "INSERT INTO checkpoints (id, pid, created_at, info, body) VALUES (?, ?, ?, ?, ?)",
    ),
    insertCheckpointMember: p("INSERT INTO checkpoint_members (id, pid) VALUES (?, ?)"),
    putCommand: p(
      `INSERT INTO commands (id, expires_at, body) VALUES (?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at, body = excluded.body`,
    ),
    purgeCommands: p("DELETE FROM commands WHERE expires_at <= ?"),
    insertMessage: p(
      `INSERT INTO messages
       (id, seq, channel, sender, sent_at, claimed_by, claim_key, claimed_at, body)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    // Claims an unclaimed message, or finds it claimed by this very call.
    claimMessage: p(
      `UPDATE messages SET claimed_by = ?, claim_key = ?, claimed_at = COALESCE(claimed_at, ?)
       WHERE id = ? AND (claimed_by IS NULL OR (claimed_by = ? AND claim_key = ?))`,
    ),
    messageClaim: p("SELECT claimed_by, claim_key FROM messages WHERE id = ?"),
  };
}

function _runOp(s: WriteStatements, op: EncodedMutation): void {
  switch (op.kind) {
    case "process.put":
      if (s.updateProcess.run(op.state, op.body, op.pid, op.parentPid).changes === 0) {
        s.putProcess.run(op.pid, op.state, op.parentPid, op.body);
      }
      return;
    case "grant.put":
      s.putGrant.run(op.id, op.subject, op.body);
      return;
    case "object.put":
      _insert(
        s.insertObjectVersion,
        [op.oid, op.version, op.namespace, op.name, op.body],
        () => `Cannot put object '${op.oid}': version ${op.version} exists already`,
      );
      s.putObjectHead.run(op.oid, op.version, op.namespace, op.name);
      return;
    case "object.delete":
      if (s.deleteObject.run(op.oid).changes === 0) {
        throw libosError("ENOENT", `Cannot delete object '${op.oid}': no such object`);
      }
      return;
    case "object.redact":
      if (s.redactObjectVersion.run(op.body, op.oid, op.version).changes === 0) {
        throw libosError(
          "ENOENT",
          `Cannot redact object '${op.oid}': it has no version ${op.version}`,
        );
      }
      return;
    case "journal.redact":
      if (s.redactJournal.run(op.body, op.pid, op.seq).changes === 0) {
        throw libosError(
          "ENOENT",
          `Cannot redact journal entry '${op.pid}#${op.seq}': no such entry`,
          { pid: op.pid },
        );
      }
      return;
    case "journal.append":
      _insert(
        s.appendJournal,
        [op.pid, op.seq, op.body],
        () => `Cannot append journal entry '${op.pid}#${op.seq}': that seq exists already`,
        { pid: op.pid },
      );
      return;
    case "audit.append":
      _insert(
        s.appendAudit,
        [op.seq, op.pid, op.action, op.body, op.hash],
        () => `Cannot append audit record '${op.seq}': that seq exists already`,
      );
      return;
    case "human.put":
      s.putHuman.run(op.id, op.pid, op.state, op.body);
      return;
    case "image.put":
      s.putImage.run(op.id, op.body);
      return;
    case "meta.put":
      s.putMeta.run(op.key, op.value);
      return;
    case "checkpoint.put":
      _insert(
        s.insertCheckpoint,
        [op.id, op.pid, op.createdAt, op.info, op.body],
        () => `Cannot put checkpoint '${op.id}': it exists already`,
      );
      for (const pid of op.pids) s.insertCheckpointMember.run(op.id, pid);
      return;
    case "command.put":
      s.putCommand.run(op.id, op.expiresAt, op.body);
      return;
    case "command.purge":
      s.purgeCommands.run(op.before);
      return;
    case "message.put":
      _insert(
        s.insertMessage,
        [
          op.id,
          op.seq,
          op.channel,
          op.sender,
          op.sentAt,
          op.claimedBy,
          op.claimKey,
          op.claimedAt,
          op.body,
        ],
        () => `Cannot put message '${op.id}': it exists already`,
      );
      return;
    case "message.claim": {
      let changes;
      try {
        changes = s.claimMessage.run(op.pid, op.key, op.at, op.id, op.pid, op.key).changes;
      } catch (error) {
        const code = (error as { errcode?: unknown }).errcode;
        if (typeof code === "number" && (code & 0xff) === 19) {
          throw libosError(
            "EEXIST",
            `Cannot claim message '${op.id}': receive ${op.key} of process ${op.pid} claimed another already`,
            {},
            error,
          );
        }
        throw error;
      }
      if (changes === 0) {
        const row = s.messageClaim.get(op.id);
        throw claimError(
          op.id,
          row === undefined ? null : {
            claimedBy: row.claimed_by === null ? null : String(row.claimed_by),
            claimKey: row.claim_key === null ? null : String(row.claim_key),
          },
        );
      }
      return;
    }
    default:
      op satisfies never;
  }
}

/** Runs an insert, turning a key conflict into `EEXIST`. */
function _insert(
  statement: StatementSync,
  params: SQLInputValue[],
  message: () => string,
  fields?: Record<string, string>,
): void {
  try {
    statement.run(...params);
  } catch (error) {
    // SQLITE_CONSTRAINT is primary result code 19; extended codes keep it in the low byte.
    const code = (error as { errcode?: unknown }).errcode;
    if (typeof code === "number" && (code & 0xff) === 19) {
      throw libosError("EEXIST", message(), fields, error);
    }
    throw error;
  }
}
