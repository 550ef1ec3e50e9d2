/**
 * The embedded store's schema: its migrations, oldest first, and the checks
 * that a database holds this code's version.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { type LibosError, libosError } from "../errors.ts";

/** One step of the schema: applied once, in its own transaction. */
interface _Migration {
  version: number;
  description: string;
  statements: readonly string[];
}

/**
 * The schema, oldest first; step `i` has version `i + 1`. Never edit a step
 * that has shipped: append a new one.
 */
const _MIGRATIONS: readonly _Migration[] = [
  {
    version: 1,
    description: "initial schema",
    statements: [
      `CREATE TABLE processes (
        pid TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        parent_pid TEXT,
        body TEXT NOT NULL)`,
      "CREATE INDEX processes_parent ON processes (parent_pid)",
      `CREATE TABLE grants (
        id TEXT PRIMARY KEY,
        subject TEXT NOT NULL,
        body TEXT NOT NULL)`,
      "CREATE INDEX grants_subject ON grants (subject)",
      `CREATE TABLE object_versions (
        oid TEXT NOT NULL,
        version BIGINT NOT NULL,
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (oid, version))`,
      // The latest version of every object, and whether it is deleted.
      `CREATE TABLE objects (
        oid TEXT PRIMARY KEY,
        version BIGINT NOT NULL,
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0)`,
      "CREATE INDEX objects_name ON objects (namespace, name)",
      `CREATE TABLE journal (
        pid TEXT NOT NULL,
        seq BIGINT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (pid, seq))`,
      // INTEGER PRIMARY KEY is SQLite's rowid (64-bit); PostgreSQL uses BIGINT.
      `CREATE TABLE audit (
        seq INTEGER PRIMARY KEY,
        pid TEXT,
        action TEXT,
        body TEXT NOT NULL,
        hash TEXT NOT NULL)`,
      "CREATE INDEX audit_pid ON audit (pid, seq)",
      "CREATE INDEX audit_action ON audit (action, seq)",
      `CREATE TABLE human (
        id TEXT PRIMARY KEY,
        pid TEXT NOT NULL,
        state TEXT NOT NULL,
        body TEXT NOT NULL)`,
      "CREATE INDEX human_state ON human (state)",
      `CREATE TABLE images (
        id TEXT PRIMARY KEY,
        body TEXT NOT NULL)`,
      `CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL)`,
    ],
  },
  {
    version: 2,
    description: "checkpoints",
    statements: [
      `CREATE TABLE checkpoints (
        id TEXT PRIMARY KEY,
        pid TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        info TEXT NOT NULL,
        body TEXT NOT NULL)`,
      // One row per member, so a subtree checkpoint is found from any member.
      `CREATE TABLE checkpoint_members (
        id TEXT NOT NULL,
        pid TEXT NOT NULL,
        PRIMARY KEY (pid, id))`,
    ],
  },
  {
    version: 3,
    description: "idempotent commands",
    statements: [
      `CREATE TABLE commands (
        id TEXT PRIMARY KEY,
        expires_at BIGINT NOT NULL,
        body TEXT NOT NULL)`,
      "CREATE INDEX commands_expiry ON commands (expires_at)",
    ],
  },
  {
    version: 4,
    description: "mailbox messages",
    statements: [
      // The claim lives in its columns (the body is the record without it).
      `CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        seq BIGINT NOT NULL,
        channel TEXT NOT NULL,
        sender TEXT,
        sent_at BIGINT NOT NULL,
        claimed_by TEXT,
        claim_key TEXT,
        claimed_at BIGINT,
        body TEXT NOT NULL)`,
      "CREATE INDEX messages_unclaimed ON messages (channel, seq) WHERE claimed_by IS NULL",
      // One message per receive call.
      `CREATE UNIQUE INDEX messages_claim ON messages (claimed_by, claim_key)
        WHERE claimed_by IS NOT NULL`,
    ],
  },
  {
    version: 5,
    description: "store-allocated ids",
    // The kernel registry of a store that holds one kernel at a time lives
    // in memory (local_kernels.ts); PostgreSQL's step 5 adds it as tables.
    statements: [
      `CREATE TABLE ids (
        kind TEXT PRIMARY KEY,
        last INTEGER NOT NULL)`,
    ],
  },
];

/** The schema version this code writes. */
export const SQLITE_SCHEMA_VERSION: number = _MIGRATIONS.length;

/** The schema version a database records (0 when it has none). */
function _schemaVersion(db: DatabaseSync): number {
  const table = db.prepare(
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
  ).get();
  if (table === undefined) return 0;
  return Number(db.prepare("SELECT MAX(version) AS v FROM schema_version").get()?.v ?? 0);
}

function _newerSchema(path: string, found: number): LibosError {
  return libosError(
    "EINVAL",
    `Cannot open store '${path}': its schema version ${found} is newer than this code knows (${SQLITE_SCHEMA_VERSION})`,
    { path },
  );
}

/** Checks, without writing, that a database has exactly this code's schema. */
export function checkSchema(db: DatabaseSync, path: string): void {
  let found: number;
  try {
    found = _schemaVersion(db);
  } catch (error) {
    throw libosError("EINVAL", `Cannot open store '${path}': ${_message(error)}`, { path }, error);
  }
  if (found > SQLITE_SCHEMA_VERSION) throw _newerSchema(path, found);
  if (found === 0) {
    throw libosError(
      "EINVAL",
      `Cannot open store '${path}' read-only: it holds no kernel state (no schema)`,
      { path },
    );
  }
  if (found < SQLITE_SCHEMA_VERSION) {
    throw libosError(
      "EINVAL",
      `Cannot open store '${path}' read-only: its schema version ${found} is older than ` +
        `this code's (${SQLITE_SCHEMA_VERSION}); open it for writing once to migrate it`,
      { path },
    );
  }
}

/** Brings the schema up to date, one step per transaction. */
export function migrate(db: DatabaseSync, path: string): void {
  db.exec(
    `CREATE TABLE IF NOT EXISTS schema_version (
      version INTEGER PRIMARY KEY,
      description TEXT NOT NULL,
      applied_at BIGINT NOT NULL)`,
  );
  const current = () => _schemaVersion(db);
  const found = current();
  if (found > SQLITE_SCHEMA_VERSION) throw _newerSchema(path, found);
  for (const step of _MIGRATIONS.slice(found)) {
    db.exec("BEGIN IMMEDIATE");
    try {
      // Another connection may have migrated while this one waited for the lock.
      if (current() < step.version) {
        for (const sql of step.statements) db.exec(sql);
        db.prepare("INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)")
          .run(step.version, step.description, Date.now());
      }
      db.exec("COMMIT");
    } catch (error) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw libosError(
        "EINTERNAL",
        `Cannot migrate store '${path}' to version ${step.version}: ${_message(error)}`,
        { path },
        error,
      );
    }
  }
}

function _message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
