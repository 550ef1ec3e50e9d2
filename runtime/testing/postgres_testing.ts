/**
 * The PostgreSQL server the tests use, and one fresh schema per test.
 *
 * The server is `LIBOS_TEST_POSTGRES` (default
 * `postgres://postgres@127.0.0.1:5432/test`). When it does not answer, tests
 * that need it are skipped with a printed reason, unless
 * `LIBOS_REQUIRE_POSTGRES=1` (CI on a machine that has PostgreSQL): then they
 * run and fail, naming the reason.
 *
 * @module
 */
import postgres from "postgres";
import { PostgresStore, type PostgresStoreOptions } from "../store/postgres_store.ts";

/** The server URL of the tests (without a schema). */
export const TEST_POSTGRES_URL: string = Deno.env.get("LIBOS_TEST_POSTGRES") ??
  "postgres://postgres@127.0.0.1:5432/test";

/** Whether the tests' server answers; the reason when it does not. */
export type PostgresProbe = { ok: true } | { ok: false; reason: string };

let _probe: Promise<PostgresProbe> | null = null;

/**
 * Asks the server `select 1` once per test process. Prints why the Postgres
 * tests are skipped when it does not answer (and they may be skipped).
 */
export function probePostgres(): Promise<PostgresProbe> {
  _probe ??= (async (): Promise<PostgresProbe> => {
    const sql = postgres(TEST_POSTGRES_URL, { max: 1, connect_timeout: 5, onnotice: () => {} });
    try {
      await sql`select 1`;
      return { ok: true };
    } catch (error) {
      const reason = `no PostgreSQL at ${TEST_POSTGRES_URL}: ${
        error instanceof Error ? error.message : String(error)
      }`;
      if (!postgresRequired()) {
        console.log(`postgres tests skipped: ${reason} (set LIBOS_TEST_POSTGRES to point at one)`);
      }
      return { ok: false, reason };
    } finally {
      await sql.end({ timeout: 0 });
    }
  })();
  return _probe;
}

/** Whether Postgres tests must run (`LIBOS_REQUIRE_POSTGRES=1`). */
export function postgresRequired(): boolean {
  return Deno.env.get("LIBOS_REQUIRE_POSTGRES") === "1";
}

/** Whether to skip the Postgres tests: the server is absent and not required. */
export async function skipPostgres(): Promise<boolean> {
  return !(await probePostgres()).ok && !postgresRequired();
}

/** A schema name no other test uses. */
export function freshSchemaName(): string {
  return `libos_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
}

/** The tests' server URL with `?schema=NAME`. */
export function testPostgresUrl(schema: string): string {
  const url = new URL(TEST_POSTGRES_URL);
  url.searchParams.set("schema", schema);
  return url.href;
}

/** Drops a test schema and everything in it. */
export async function dropTestSchema(schema: string): Promise<void> {
  if (!/^libos_test_[a-z0-9_]+$/.test(schema)) {
    throw new TypeError(`Cannot drop schema '${schema}': not a test schema (libos_test_*)`);
  }
  const sql = postgres(TEST_POSTGRES_URL, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * Opens a {@linkcode PostgresStore} on a fresh schema; closing it drops the
 * schema. Fails, naming the reason, when the server does not answer.
 */
export async function openTestPostgresStore(
  options: Omit<PostgresStoreOptions, "schema"> = {},
): Promise<PostgresStore> {
  const probe = await probePostgres();
  if (!probe.ok) throw new Error(probe.reason);
  const schema = freshSchemaName();
  const store = await PostgresStore.open(testPostgresUrl(schema), options);
  const close = store.close.bind(store);
  let dropped: Promise<void> | null = null;
  store.close = () => {
    dropped ??= close().finally(() => dropTestSchema(schema));
    return dropped;
  };
  return store;
}
