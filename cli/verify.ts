/**
 * `libos verify`: verifies the audit chain of a store (a data directory's
 * SQLite file, read-only when no kernel holds it, or a PostgreSQL store).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import {
  auditPages,
  DataDirLock,
  PostgresStore,
  SQLITE_FILE,
  SqliteStore,
  type Store,
  verifyAudit,
} from "../mod.ts";
import { safeLine } from "./terminal.ts";
import { exists, storeLocation } from "./flags.ts";

/**
 * Verifies the audit chain from the store, opened read-only: it changes no
 * byte of the database, its WAL or the clean-shutdown marker, and runs beside
 * a kernel on the same store.
 */
export async function verify(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { data: { type: "string", default: ".libos" }, store: { type: "string" } },
    strict: true,
  });
  const location = storeLocation(values.store);
  if (location === null) return 2;
  if (location.kind === "postgres") {
    await using store = await PostgresStore.open(location.url, { readOnly: true });
    return await _verifyStore(store);
  }
  const data = resolve(values.data);
  const db = join(data, SQLITE_FILE);
  if (!(await exists(db))) {
    console.error(safeLine`libos: Cannot verify '${data}': it holds no ${SQLITE_FILE}`);
    return 1;
  }
  // With no kernel on the directory, a shared lock keeps one from starting, so
  // a database without a WAL can be read as an immutable file: SQLite then
  // creates no -wal or -shm file. With a kernel on it, SQLite reads its WAL.
  using reader = DataDirLock.acquireShared(data);
  const immutable = reader !== null && !(await exists(`${db}-wal`));
  await using store = await SqliteStore.open(db, { readOnly: true, immutable });
  return await _verifyStore(store);
}

/** Verifies a store's audit chain and reports it; 0 when it holds. */
async function _verifyStore(store: Store): Promise<number> {
  const t0 = performance.now();
  // A shared store holds one chain per kernel (docs/cluster.md).
  const v = await verifyAudit(auditPages(store), store.shared ? { chains: "many" } : {});
  const ms = (performance.now() - t0).toFixed(1);
  if (v.ok) {
    console.log(safeLine`audit chain ok: ${v.count} records verified in ${ms} ms`);
    return 0;
  }
  console.log(
    safeLine`audit chain BROKEN at record ${v.seq}: ${v.reason} (${v.count} records read)`,
  );
  return 1;
}
