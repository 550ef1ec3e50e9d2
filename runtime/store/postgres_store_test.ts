import assert from "node:assert/strict";
import postgres from "postgres";
import { hasCode } from "../errors.ts";
import { PostgresStore } from "./postgres_store.ts";
import { POSTGRES_SCHEMA_VERSION } from "./postgres_schema.ts";
import { runStoreContract } from "../testing/store_contract.ts";
import {
  audit,
  grant,
  journalAppend,
  objectRecord,
  processRecord,
} from "../testing/store_records.ts";
import {
  dropTestSchema,
  freshSchemaName,
  openTestPostgresStore,
  skipPostgres,
  TEST_POSTGRES_URL,
  testPostgresUrl,
} from "../testing/postgres_testing.ts";

const ignore = await skipPostgres();

runStoreContract("postgres", () => openTestPostgresStore(), { ignore });

/** A test on its own schema, dropped afterwards (whether the test passed or not). */
function pgTest(name: string, fn: (url: string, schema: string) => Promise<void>): void {
  Deno.test({
    name: `postgres store: ${name}`,
    ignore,
    fn: async () => {
      const schema = freshSchemaName();
      try {
        await fn(testPostgresUrl(schema), schema);
      } finally {
        await dropTestSchema(schema);
      }
    },
  });
}

/** Runs `fn` with a plain connection to the tests' database, in `schema`. */
async function withSql<T>(schema: string, fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(TEST_POSTGRES_URL, {
    max: 2,
    onnotice: () => {},
    connection: { search_path: schema },
  });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

pgTest("data survives close and reopen", async (url) => {
  {
    await using store = await PostgresStore.open(url);
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
  await using store = await PostgresStore.open(url);
  const snapshot = await store.load();
  assert.deepEqual(snapshot.processes, [processRecord("p_1")]);
  assert.deepEqual(snapshot.grants, [grant("g_1", "p_1")]);
  assert.deepEqual(snapshot.objects, [objectRecord("o_1", 2, { text: "two" })]);
  assert.deepEqual(snapshot.journalHeads, { p_1: 1 });
  assert.deepEqual(snapshot.auditHead, audit(1, "p_1", "spawn"));
  assert.deepEqual(snapshot.meta, { nextPid: 2 });
});

pgTest("close() commits batches still waiting for the group commit", async (url) => {
  const store = await PostgresStore.open(url, { groupCommitMs: 60_000 });
  const pending = store.apply([{ kind: "process.put", process: processRecord("p_1") }]);
  await store.close();
  await pending;
  await using reopened = await PostgresStore.open(url);
  assert.deepEqual((await reopened.load()).processes, [processRecord("p_1")]);
});

pgTest("migrations are recorded once per version, each in schema_version", async (url, schema) => {
  await (await PostgresStore.open(url)).close();
  await (await PostgresStore.open(url)).close();
  const versions = await withSql(
    schema,
    async (sql) =>
      (await sql`SELECT version FROM schema_version ORDER BY version`).map((r) => r.version),
  );
  assert.deepEqual(versions, Array.from({ length: POSTGRES_SCHEMA_VERSION }, (_, i) => i + 1));
});

pgTest("two stores migrating a fresh schema at once apply each step once", async (url, schema) => {
  const stores = await Promise.all([PostgresStore.open(url), PostgresStore.open(url)]);
  for (const store of stores) await store.close();
  const count = await withSql(
    schema,
    async (sql) => Number((await sql`SELECT count(*) AS n FROM schema_version`)[0]!.n),
  );
  assert.equal(count, POSTGRES_SCHEMA_VERSION);
});

pgTest("a schema with a newer version is refused with EINVAL", async (url, schema) => {
  await (await PostgresStore.open(url)).close();
  await withSql(schema, (sql) =>
    sql`INSERT INTO schema_version (version, description, applied_at)
      VALUES (${POSTGRES_SCHEMA_VERSION + 1}, 'from the future', ${Date.now()})`);
  await assert.rejects(
    PostgresStore.open(url),
    (error) => hasCode(error, "EINVAL") && /newer than this code knows/.test(error.message),
  );
});

pgTest(
  "read-only: reads what was written, refuses writes, and never creates a schema",
  async (url, schema) => {
    await assert.rejects(
      PostgresStore.open(url, { readOnly: true }),
      (error) => hasCode(error, "EINVAL") && /holds no kernel state/.test(error.message),
    );
    const exists = await withSql(
      schema,
      async (sql) => (await sql`SELECT 1 FROM pg_namespace WHERE nspname = ${schema}`).length === 1,
    );
    assert.equal(exists, false);
    {
      await using store = await PostgresStore.open(url);
      await store.apply([{ kind: "audit.append", record: audit(1, "p_1", "spawn") }]);
    }
    await using reader = await PostgresStore.open(url, { readOnly: true });
    assert.deepEqual(await reader.readAudit(), [audit(1, "p_1", "spawn")]);
    await assert.rejects(
      reader.apply([{ kind: "audit.append", record: audit(2, "p_1", "x") }]),
      (error) => hasCode(error, "ESTATE") && /read-only/.test(error.message),
    );
  },
);

pgTest(
  "50 concurrent applies share one transaction; a failed group is retried batch by batch",
  async (url) => {
    await using store = await PostgresStore.open(url);
    const before = store.stats.transactions;
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => store.apply([journalAppend(`p_${i}`, 1)])),
    );
    assert.equal(store.stats.transactions - before, 1);
    assert.equal(Object.keys((await store.load()).journalHeads).length, 50);

    const mark = store.stats.transactions;
    const results = await Promise.allSettled([
      store.apply([journalAppend("p_x", 1)]),
      store.apply([journalAppend("p_x", 1)]),
      store.apply([journalAppend("p_y", 1)]),
    ]);
    assert.deepEqual(results.map((r) => r.status), ["fulfilled", "rejected", "fulfilled"]);
    const reason = (results[1] as PromiseRejectedResult).reason;
    assert.ok(hasCode(reason, "EEXIST"), String(reason));
    assert.match(reason.message, /Cannot append journal entry 'p_x#1': that seq exists already/);
    // One failed group transaction, then one per batch.
    assert.equal(store.stats.transactions - mark, 4);
  },
);

pgTest(
  "in one group, later puts of a key win, a delete between puts keeps its order, a bad delete fails alone",
  async (url) => {
    await using store = await PostgresStore.open(url);
    await store.apply([{ kind: "object.put", object: objectRecord("o_1", 1, { text: "one" }) }]);
    const exited = { ...processRecord("p_1"), state: "exited" as const };
    const results = await Promise.allSettled([
      store.apply([{ kind: "process.put", process: processRecord("p_1") }]),
      store.apply([{ kind: "process.put", process: exited }]),
      store.apply([{ kind: "meta.put", key: "k", value: 1 }, {
        kind: "meta.put",
        key: "k",
        value: 2,
      }]),
      // Deleted, then revived by a higher version, then deleted again: gone.
      store.apply([{ kind: "object.delete", oid: "o_1" }]),
      store.apply([{ kind: "object.put", object: objectRecord("o_1", 2, { text: "two" }) }]),
      store.apply([{ kind: "object.delete", oid: "o_1" }]),
      // Put and deleted in the same group: found, so no ENOENT.
      store.apply([
        { kind: "object.put", object: objectRecord("o_2", 1, { text: "new" }) },
        { kind: "object.delete", oid: "o_2" },
      ]),
      store.apply([{ kind: "object.put", object: objectRecord("o_3", 1, { text: "kept" }) }]),
      store.apply([{ kind: "object.put", object: objectRecord("o_3", 2, { text: "kept 2" }) }]),
      // Only this batch fails: the group is retried batch by batch around it.
      store.apply([{ kind: "object.delete", oid: "o_missing" }]),
    ]);
    const failed = results.at(-1) as PromiseRejectedResult;
    assert.ok(hasCode(failed.reason, "ENOENT"), String(failed.reason));
    assert.match(failed.reason.message, /Cannot delete object 'o_missing': no such object/);
    assert.deepEqual(results.slice(0, -1).map((r) => r.status), Array(9).fill("fulfilled"));
    const snapshot = await store.load();
    assert.deepEqual(snapshot.processes, [exited]);
    assert.deepEqual(snapshot.meta, { k: 2 });
    assert.deepEqual(snapshot.objects, [objectRecord("o_3", 2, { text: "kept 2" })]);
    assert.equal((await store.readObjectVersions("o_1")).length, 2);
  },
);

pgTest("a URL's password never appears in the store's location or its errors", async () => {
  const url = new URL(TEST_POSTGRES_URL);
  url.password = "s3cret-pw";
  url.port = "1";
  const error = await PostgresStore.open(url.href, { connectTimeoutSeconds: 2 }).then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(hasCode(error, "EINVAL"), String(error));
  assert.doesNotMatch(String((error as Error).message), /s3cret-pw/);
  assert.match(String((error as Error).message), /:\*\*\*@/);
});

Deno.test("postgres store: a malformed URL or schema is refused with a TypeError naming it", async () => {
  await assert.rejects(
    PostgresStore.open("mysql://root@127.0.0.1/test"),
    (e) =>
      e instanceof TypeError &&
      /postgres:\/\/ or postgresql:\/\/ URL, got 'mysql:'/.test(e.message),
  );
  await assert.rejects(
    PostgresStore.open("postgres://u@h/db?schema=Bad-Name"),
    (e) =>
      e instanceof TypeError && /schema must be a lowercase identifier.*'Bad-Name'/.test(e.message),
  );
  await assert.rejects(
    PostgresStore.open("postgres://u@h/db?search_path=x"),
    (e) => e instanceof TypeError && /\?schema=NAME/.test(e.message),
  );
  await assert.rejects(
    PostgresStore.open("not a url :pw@"),
    (e) => e instanceof TypeError && /expected a URL like postgres:/.test(e.message),
  );
});

pgTest(
  "a connection lost in the middle of a group: the batch is retried on a new one and lands once, and the store goes on",
  async (url, schema) => {
    await using store = await PostgresStore.open(url);
    await store.apply([journalAppend("p_1", 1)]);
    await withSql(schema, async (sql) => {
      // Holds the journal so that the group's INSERT waits, BEGIN done and COMMIT sent behind it.
      const locker = await sql.reserve();
      try {
        await locker`BEGIN`;
        await locker`LOCK TABLE journal IN ACCESS EXCLUSIVE MODE`;
        const applied = store.apply([journalAppend("p_1", 2)]);
        const waiting = async () =>
          await sql`SELECT pid FROM pg_stat_activity
          WHERE application_name = 'libos' AND wait_event_type = 'Lock'`;
        let blocked = await waiting();
        for (let i = 0; i < 500 && blocked.length === 0; i++) {
          await new Promise((resolve) => setTimeout(resolve, 10));
          blocked = await waiting();
        }
        assert.equal(blocked.length, 1, "the group's INSERT never waited for the lock");
        // Without the store noticing the loss, its next group crashed on a closed socket.
        await sql`SELECT pg_terminate_backend(${blocked[0]!.pid})`;
        // The retry waits for the lock too; let it through.
        await locker`COMMIT`;
        await applied;
      } finally {
        locker.release();
      }
    });
    await store.apply([journalAppend("p_1", 3)]);
    assert.deepEqual((await store.readJournal("p_1")).map((e) => e.seq), [1, 2, 3]);
  },
);

pgTest(
  "forwarded commands: a row for a pid goes to whoever owns the pid, an adopter takes a dead owner's rows, a row for a kernel only to it, an expired row to no one; a row taken by a dead kernel is answered with an error, and answered rows are purged",
  async (url) => {
    await using store = await PostgresStore.open(url);
    const queue = store.forwarded;
    const a = await store.registerKernel({ host: "h", pid: 1, ttlMs: 30 });
    const b = await store.registerKernel({ host: "h", pid: 2, ttlMs: 60_000 });
    await store.apply([{ kind: "process.put", process: processRecord("p_1") }], { fence: a });
    await store.apply([{ kind: "process.put", process: processRecord("p_2") }], { fence: b });
    const command = (id: string, owner: string | null, pid: string | null) => ({
      id,
      owner,
      pid,
      kind: owner === null ? "signal" : "spawn",
      payload: { n: id },
      state: "pending" as const,
      result: null,
      createdAt: 1_700_000_000_000,
    });
    await queue.put(command("fw_1", null, "p_1"));
    await queue.put(command("fw_2", null, "p_2"));
    await queue.put(command("fw_3", a.kernel, null));
    await queue.put(command("fw_4", b.kernel, null));
    const ids = async (kernel: string) => (await queue.pendingFor(kernel, 10)).map((c) => c.id);
    assert.deepEqual(await ids(a.kernel), ["fw_1", "fw_3"]);
    assert.deepEqual(await ids(b.kernel), ["fw_2", "fw_4"]);
    assert.deepEqual(await queue.read("fw_1"), {
      ...command("fw_1", null, "p_1"),
      takenBy: null,
      doneAt: null,
    });

    // A dies: b adopts p_1 and takes its row; the row addressed to a stays a's.
    const deadline = Date.now() + 5_000;
    while (!(await store.declareDead(a.kernel, a.epoch))) {
      assert.ok(Date.now() < deadline, "the lease never expired");
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.deepEqual((await store.claimProcesses(b, { limit: 10 })).map((c) => c.pid), ["p_1"]);
    assert.deepEqual(await ids(b.kernel), ["fw_1", "fw_2", "fw_4"]);
    assert.deepEqual(await ids(a.kernel), ["fw_3"]);

    // Its sender gave up on fw_3: no one takes or finishes it after.
    assert.equal(await queue.expire("fw_3"), true);
    assert.equal(await queue.take("fw_3", b.kernel), false);
    assert.equal(await queue.finish("fw_3", { ok: true }), false);
    assert.deepEqual(await ids(a.kernel), []);
    assert.equal((await queue.read("fw_3"))?.state, "expired");

    // Taken: once, and then not pending nor expirable; its result is written once.
    assert.equal(await queue.take("fw_4", b.kernel), true);
    assert.equal(await queue.take("fw_4", b.kernel), false);
    assert.equal(await queue.expire("fw_4"), false);
    assert.deepEqual(await ids(b.kernel), ["fw_1", "fw_2"]);
    assert.equal(await queue.finish("fw_4", { ok: true, value: 1 }), true);
    assert.equal(await queue.finish("fw_4", { ok: true, value: 2 }), false);
    const done = await queue.read("fw_4");
    assert.deepEqual({ ...done, doneAt: 0 }, {
      ...command("fw_4", b.kernel, null),
      state: "done",
      result: { ok: true, value: 1 },
      takenBy: b.kernel,
      doneAt: 0,
    });
    assert.ok(typeof done?.doneAt === "number" && done.doneAt > 0);
    assert.equal(await queue.finish("fw_1", "signalled"), true);
    assert.deepEqual(await ids(b.kernel), ["fw_2"]);
    assert.equal(await queue.read("fw_404"), null);

    // A row taken by a kernel that died is answered (with the given error)
    // by whoever sweeps; one taken by a live kernel is not.
    await queue.put(command("fw_5", a.kernel, null));
    assert.equal(await queue.take("fw_5", a.kernel), true);
    assert.equal(await queue.take("fw_2", b.kernel), true);
    const orphaned = { ok: false, code: "EINTERRUPTED", message: "gone" };
    assert.deepEqual(await queue.failOrphans(orphaned, 10), ["fw_5"]);
    assert.deepEqual(await queue.failOrphans(orphaned, 10), []);
    assert.deepEqual((await queue.read("fw_5"))?.result, orphaned);
    assert.equal((await queue.read("fw_2"))?.state, "taken");

    // Purged: rows done or expired by then, and rows created by then that no
    // one answered; none later.
    assert.equal(await queue.purge(1_600_000_000_000), 0);
    assert.equal(await queue.purge(Date.now() + 1), 5);
    for (const id of ["fw_1", "fw_2", "fw_3", "fw_4", "fw_5"]) {
      assert.equal(await queue.read(id), null, id);
    }
    await queue.put({ ...command("fw_6", b.kernel, null), createdAt: Date.now() + 60_000 });
    assert.equal(await queue.purge(Date.now()), 0);
    assert.equal((await queue.read("fw_6"))?.state, "pending");
  },
);
