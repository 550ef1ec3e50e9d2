/**
 * The PostgreSQL store's schema: its tables, and the versioned migrations
 * that create them, recorded in `schema_version`, each applied once, in its
 * own transaction.
 *
 * @module
 */
import type postgres from "postgres";
import { type LibosError, libosError } from "../errors.ts";
import type { PostgresTarget } from "./postgres_url.ts";

type _Sql = postgres.Sql;
type _Tx = postgres.TransactionSql;

/** One step of the schema: applied once, in its own transaction. */
interface _Migration {
  version: number;
  description: string;
  statements: readonly string[];
}

// Keys are compared byte-wise (COLLATE "C"), as SQLite and the memory store
// order them, whatever the database's locale.
const _KEY = `TEXT COLLATE "C"`;

/**
 * The schema, oldest first; step `i` has version `i + 1`, the same steps as
 * the SQLite store's. Never edit a step that has shipped: append a new one.
 */
const _MIGRATIONS: readonly _Migration[] = [
  {
    version: 1,
    description: "initial schema",
    statements: [
      `CREATE TABLE processes (
        pid ${_KEY} PRIMARY KEY,
        state TEXT NOT NULL,
        parent_pid ${_KEY},
        body TEXT NOT NULL)`,
      "CREATE INDEX processes_parent ON processes (parent_pid)",
      `CREATE TABLE grants (
        id ${_KEY} PRIMARY KEY,
        subject ${_KEY} NOT NULL,
        body TEXT NOT NULL)`,
      "CREATE INDEX grants_subject ON grants (subject)",
      `CREATE TABLE object_versions (
        oid ${_KEY} NOT NULL,
        version BIGINT NOT NULL,
        namespace ${_KEY} NOT NULL,
        name ${_KEY} NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (oid, version))`,
      // The latest version of every object, and whether it is deleted.
      `CREATE TABLE objects (
        oid ${_KEY} PRIMARY KEY,
        version BIGINT NOT NULL,
        namespace ${_KEY} NOT NULL,
        name ${_KEY} NOT NULL,
        deleted BOOLEAN NOT NULL DEFAULT false)`,
      "CREATE INDEX objects_name ON objects (namespace, name)",
      `CREATE TABLE journal (
        pid ${_KEY} NOT NULL,
        seq BIGINT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (pid, seq))`,
      `CREATE TABLE audit (
        seq BIGINT PRIMARY KEY,
        pid ${_KEY},
        action ${_KEY},
        body TEXT NOT NULL,
        hash TEXT NOT NULL)`,
      "CREATE INDEX audit_pid ON audit (pid, seq)",
      "CREATE INDEX audit_action ON audit (action, seq)",
      `CREATE TABLE human (
        id ${_KEY} PRIMARY KEY,
        pid ${_KEY} NOT NULL,
        state TEXT NOT NULL,
        body TEXT NOT NULL)`,
      "CREATE INDEX human_state ON human (state)",
      `CREATE TABLE images (
        id ${_KEY} PRIMARY KEY,
        body TEXT NOT NULL)`,
      `CREATE TABLE meta (
        key ${_KEY} PRIMARY KEY,
        value TEXT NOT NULL)`,
    ],
  },
  {
    version: 2,
    description: "checkpoints",
    statements: [
      `CREATE TABLE checkpoints (
        id ${_KEY} PRIMARY KEY,
        pid ${_KEY} NOT NULL,
        created_at BIGINT NOT NULL,
        info TEXT NOT NULL,
        body TEXT NOT NULL)`,
      // One row per member, so a subtree checkpoint is found from any member.
      `CREATE TABLE checkpoint_members (
        id ${_KEY} NOT NULL,
        pid ${_KEY} NOT NULL,
        PRIMARY KEY (pid, id))`,
    ],
  },
  {
    version: 3,
    description: "idempotent commands",
    statements: [
      `CREATE TABLE commands (
        id ${_KEY} PRIMARY KEY,
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
        id ${_KEY} PRIMARY KEY,
        seq BIGINT NOT NULL,
        channel ${_KEY} NOT NULL,
        sender ${_KEY},
        sent_at BIGINT NOT NULL,
        claimed_by ${_KEY},
        claim_key ${_KEY},
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
    description: "store-allocated ids, the kernel registry and process owners",
    statements: [
      `CREATE TABLE ids (
        kind ${_KEY} PRIMARY KEY,
        last BIGINT NOT NULL)`,
      // A kernel's lease is its row: alive until heartbeat_at + ttl_ms; its
      // epoch is bumped when it is declared dead (docs/cluster.md).
      `CREATE TABLE kernels (
        id ${_KEY} PRIMARY KEY,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started_at BIGINT NOT NULL,
        heartbeat_at BIGINT NOT NULL,
        ttl_ms BIGINT NOT NULL,
        epoch BIGINT NOT NULL,
        state TEXT NOT NULL,
        node TEXT)`,
      "CREATE INDEX kernels_node ON kernels (node) WHERE state = 'alive'",
      `ALTER TABLE processes ADD COLUMN owner ${_KEY}`,
      "CREATE INDEX processes_owner ON processes (owner)",
    ],
  },
  {
    version: 6,
    description: "commands forwarded between kernels",
    statements: [
      // A command one kernel's API took for a process another kernel owns
      // (docs/cluster.md "Across kernels"); its owner writes the result.
      `CREATE TABLE forwarded (
        id ${_KEY} PRIMARY KEY,
        owner ${_KEY},
        pid ${_KEY},
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        state TEXT NOT NULL,
        result TEXT,
        created_at BIGINT NOT NULL)`,
      "CREATE INDEX forwarded_pending ON forwarded (created_at) WHERE state = 'pending'",
    ],
  },
  {
    version: 7,
    description: "forwarded commands: who took them, when they were done",
    statements: [
      // The kernel that took a command (its adopter answers it when it died),
      // and when it was done or expired (purged some time after).
      `ALTER TABLE forwarded ADD COLUMN taken_by ${_KEY}`,
      "ALTER TABLE forwarded ADD COLUMN done_at BIGINT",
      "CREATE INDEX forwarded_taken ON forwarded (taken_by) WHERE state = 'taken'",
      "CREATE INDEX forwarded_age ON forwarded (COALESCE(done_at, created_at))",
    ],
  },
];

/** The schema version this code writes. */
export const POSTGRES_SCHEMA_VERSION: number = _MIGRATIONS.length;

/** The schema version the database records (0 when it has none). */
async function _schemaVersion(sql: _Sql | _Tx): Promise<number> {
  const [table] = await sql`SELECT to_regclass('schema_version') IS NOT NULL AS present`;
  if (table?.present !== true) return 0;
  const [row] = await sql`SELECT COALESCE(MAX(version), 0) AS v FROM schema_version`;
  return Number(row?.v ?? 0);
}

function _newerSchema(target: PostgresTarget, found: number): LibosError {
  return libosError(
    "EINVAL",
    `Cannot open store '${target.shown}': its schema version ${found} is newer than this code knows (${POSTGRES_SCHEMA_VERSION})`,
    { path: target.shown },
  );
}

/** Checks, without writing, that the schema has exactly this code's version. */
export async function checkPostgresSchema(sql: _Sql, target: PostgresTarget): Promise<void> {
  const found = await _schemaVersion(sql);
  if (found > POSTGRES_SCHEMA_VERSION) throw _newerSchema(target, found);
  if (found === 0) {
    throw libosError(
      "EINVAL",
      `Cannot open store '${target.shown}' read-only: it holds no kernel state (no schema)`,
      { path: target.shown },
    );
  }
  if (found < POSTGRES_SCHEMA_VERSION) {
    throw libosError(
      "EINVAL",
      `Cannot open store '${target.shown}' read-only: its schema version ${found} is older than ` +
        `this code's (${POSTGRES_SCHEMA_VERSION}); open it for writing once to migrate it`,
      { path: target.shown },
    );
  }
}

/**
 * Creates the schema if missing and applies each missing step in its own
 * transaction. A transaction-scoped advisory lock on the schema's name keeps
 * two stores opening at once from applying a step twice.
 */
export async function migratePostgresSchema(sql: _Sql, target: PostgresTarget): Promise<void> {
  const lock = `libos.schema:${target.schema}`;
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(hashtext(${lock}))`;
    await tx.unsafe(`CREATE SCHEMA IF NOT EXISTS ${target.schema}`);
    await tx.unsafe(
      `CREATE TABLE IF NOT EXISTS schema_version (
        version INTEGER PRIMARY KEY,
        description TEXT NOT NULL,
        applied_at BIGINT NOT NULL)`,
    );
  });
  const found = await _schemaVersion(sql);
  if (found > POSTGRES_SCHEMA_VERSION) throw _newerSchema(target, found);
  for (const step of _MIGRATIONS.slice(found)) {
    try {
      await sql.begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(hashtext(${lock}))`;
        // Another store may have migrated while this one waited for the lock.
        if (await _schemaVersion(tx) >= step.version) return;
        for (const statement of step.statements) await tx.unsafe(statement);
        await tx`INSERT INTO schema_version (version, description, applied_at)
          VALUES (${step.version}, ${step.description}, ${Date.now()})`;
      });
    } catch (error) {
      throw libosError(
        "EINTERNAL",
        `Cannot migrate store '${target.shown}' to version ${step.version}: ${_message(error)}`,
        { path: target.shown },
        error,
      );
    }
  }
}

function _message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
