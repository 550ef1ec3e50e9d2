import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { hasCode } from "../errors.ts";
import { SqliteStore } from "./sqlite_store.ts";
import { SQLITE_SCHEMA_VERSION } from "./sqlite_schema.ts";
import { runStoreContract } from "../testing/store_contract.ts";
import {
  audit,
  grant,
  journalAppend,
  objectRecord,
  processRecord,
} from "../testing/store_records.ts";

const dir = Deno.makeTempDirSync({ prefix: "libos_sqlite_store_test_" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
let files = 0;
const tempPath = () => join(dir, `store_${++files}.db`);

runStoreContract("sqlite :memory:", () => SqliteStore.open(":memory:"));
runStoreContract("sqlite file", () => SqliteStore.open(tempPath()));

Deno.test("sqlite store: data survives close and reopen of a file database", async () => {
  const path = tempPath();
  {
    await using store = await SqliteStore.open(path);
    await store.apply([
      { kind: "process.put", process: processRecord("p_1") },
      { kind: "grant.put", grant: grant("g_1", "p_1") },
      { kind: "object.put", object: objectRecord("o_1", 1, { text: "one" }) },
      { kind: "object.put", object: objectRecord("o_1", 2, { text: "two" }) },
      journalAppend("p_1", 1),
      { kind: "audit.append", record: audit(1, "p_1", "spawn") },
      { kind: "meta.put", key: "nextPid", value: 2 },
    ]);
  }
  await using store = await SqliteStore.open(path);
  const snapshot = await store.load();
  assert.deepEqual(snapshot.processes, [processRecord("p_1")]);
  assert.deepEqual(snapshot.grants, [grant("g_1", "p_1")]);
  assert.deepEqual(snapshot.objects, [objectRecord("o_1", 2, { text: "two" })]);
  assert.deepEqual(snapshot.journalHeads, { p_1: 1 });
  assert.deepEqual(snapshot.auditHead, audit(1, "p_1", "spawn"));
  assert.deepEqual(snapshot.meta, { nextPid: 2 });
  assert.equal((await store.readObjectVersions("o_1")).length, 2);
});

Deno.test("sqlite store: close() commits batches still waiting for the group commit", async () => {
  const path = tempPath();
  const store = await SqliteStore.open(path, { groupCommitMs: 60_000 });
  const pending = store.apply([{ kind: "process.put", process: processRecord("p_1") }]);
  await store.close();
  await pending;
  await using reopened = await SqliteStore.open(path);
  assert.deepEqual((await reopened.load()).processes, [processRecord("p_1")]);
});

Deno.test("sqlite store: migrations are recorded once per version", async () => {
  const path = tempPath();
  await (await SqliteStore.open(path)).close();
  await (await SqliteStore.open(path)).close();
  const db = new DatabaseSync(path);
  try {
    const rows = db.prepare("SELECT version FROM schema_version ORDER BY version").all();
    assert.deepEqual(
      rows.map((row) => row.version),
      Array.from({ length: SQLITE_SCHEMA_VERSION }, (_, i) => i + 1),
    );
  } finally {
    db.close();
  }
});

Deno.test("sqlite store: a database with a newer schema version is refused with EINVAL", async () => {
  const path = tempPath();
  await (await SqliteStore.open(path)).close();
  const db = new DatabaseSync(path);
  db.prepare("INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)")
    .run(SQLITE_SCHEMA_VERSION + 1, "from the future", Date.now());
  db.close();
  await assert.rejects(
    SqliteStore.open(path),
    (error) => hasCode(error, "EINVAL") && /newer than this code knows/.test(error.message),
  );
});

Deno.test("sqlite store: a file database runs in WAL mode with synchronous=FULL and secure_delete", async () => {
  const path = tempPath();
  await using store = await SqliteStore.open(path, { busyTimeoutMs: 1234 });
  // synchronous and busy_timeout are per connection: read the store's own.
  assert.deepEqual(store.pragmas(), {
    journalMode: "wal",
    synchronous: 2,
    foreignKeys: true,
    busyTimeoutMs: 1234,
    secureDelete: true,
  });
  // WAL is a property of the file: a second connection sees it too.
  const db = new DatabaseSync(path);
  try {
    assert.equal(db.prepare("PRAGMA journal_mode").get()?.journal_mode, "wal");
  } finally {
    db.close();
  }
});

Deno.test("sqlite store: integrityCheck() reports ok on a used database", async () => {
  await using store = await SqliteStore.open(tempPath());
  await store.apply([journalAppend("p_1", 1), {
    kind: "audit.append",
    record: audit(1, "p_1", "x"),
  }]);
  assert.equal(store.integrityCheck(), "ok");
});

Deno.test("sqlite store: 50 concurrent applies share far fewer than 50 transactions", async () => {
  await using store = await SqliteStore.open(tempPath());
  const before = store.stats.transactions;
  await Promise.all(
    Array.from({ length: 50 }, (_, i) => store.apply([journalAppend(`p_${i}`, 1)])),
  );
  const used = store.stats.transactions - before;
  assert.equal(used, 1);
  assert.equal(Object.keys((await store.load()).journalHeads).length, 50);
});

Deno.test("sqlite store: a failed group is retried batch by batch, in separate transactions", async () => {
  await using store = await SqliteStore.open(":memory:");
  const results = await Promise.allSettled([
    store.apply([journalAppend("p_1", 1)]),
    store.apply([journalAppend("p_1", 1)]),
    store.apply([journalAppend("p_2", 1)]),
  ]);
  assert.deepEqual(results.map((r) => r.status), ["fulfilled", "rejected", "fulfilled"]);
  // One failed group transaction, then one per batch.
  assert.equal(store.stats.transactions, 4);
});
