/**
 * The one contract every {@linkcode Store} implementation passes (SQLite,
 * memory, PostgreSQL). A test file calls `runStoreContract` with a
 * factory that makes a fresh, empty store per test.
 *
 * @module
 */
import assert from "node:assert/strict";
import { hasCode } from "../errors.ts";
import type { Mutation, Store } from "../store/store.ts";
import type { ProcessRecord } from "../types.ts";
import { clusterContractCases } from "./store_contract_cluster.ts";
import {
  audit,
  commandRecord,
  grant,
  humanRequest,
  imageRecord,
  journalAppend,
  journalEntry,
  message,
  objectRecord,
  processRecord,
  T0,
} from "./store_records.ts";

/** Options of {@linkcode runStoreContract}. */
export interface StoreContractOptions {
  /** Registers the cases as ignored (default false), e.g. when the store's server is absent. */
  ignore?: boolean;
}

/** Registers the store contract's `Deno.test` cases for one implementation. */
export function runStoreContract(
  name: string,
  create: () => Promise<Store>,
  options: StoreContractOptions = {},
): void {
  const test = (title: string, fn: (store: Store) => Promise<void>) =>
    Deno.test({
      name: `${name} store: ${title}`,
      ignore: options.ignore ?? false,
      fn: async () => {
        await using store = await create();
        await fn(store);
      },
    });

  test("a batch with a duplicate journal seq is rejected whole, a concurrent batch still lands", async (store) => {
    await store.apply([{ kind: "journal.append", entry: journalEntry("p_1", 1) }]);
    const bad = store.apply([
      { kind: "process.put", process: processRecord("p_2") },
      { kind: "grant.put", grant: grant("g_2", "p_2") },
      { kind: "journal.append", entry: journalEntry("p_1", 2) },
      { kind: "journal.append", entry: journalEntry("p_1", 1) },
    ]);
    const good = store.apply([
      { kind: "process.put", process: processRecord("p_3") },
      { kind: "journal.append", entry: journalEntry("p_3", 1) },
    ]);
    const [badResult, goodResult] = await Promise.allSettled([bad, good]);
    assert.equal(goodResult.status, "fulfilled");
    assert.equal(badResult.status, "rejected");
    assert.ok(hasCode(badResult.reason, "EEXIST"), String(badResult.reason));

    const snapshot = await store.load();
    assert.deepEqual(snapshot.processes.map((p) => p.pid), ["p_3"]);
    assert.deepEqual(snapshot.grants, []);
    assert.deepEqual(snapshot.journalHeads, { p_1: 1, p_3: 1 });
    assert.deepEqual((await store.readJournal("p_1")).map((e) => e.seq), [1]);
  });

  test("of two concurrent batches appending the same seq, the earlier lands and the later rejects", async (store) => {
    const first = journalEntry("p_1", 1, { n: "first" });
    const second = journalEntry("p_1", 1, { n: "second" });
    const results = await Promise.allSettled([
      store.apply([{ kind: "journal.append", entry: first }]),
      store.apply([{ kind: "journal.append", entry: second }]),
    ]);
    assert.deepEqual(results.map((r) => r.status), ["fulfilled", "rejected"]);
    assert.deepEqual(await store.readJournal("p_1"), [first]);
  });

  test("a duplicate audit seq is rejected with EEXIST", async (store) => {
    await store.apply([{ kind: "audit.append", record: audit(1, "p_1", "spawn") }]);
    await assert.rejects(
      store.apply([{ kind: "audit.append", record: audit(1, "p_2", "other") }]),
      (error) => hasCode(error, "EEXIST"),
    );
    assert.deepEqual(await store.readAudit(), [audit(1, "p_1", "spawn")]);
  });

  test("an invalid mutation rejects with EINVAL and leaves the store untouched", async (store) => {
    const results = await Promise.allSettled([
      store.apply([
        { kind: "process.put", process: processRecord("p_1") },
        { kind: "journal.append", entry: { ...journalEntry("p_1", 1), seq: 1.5 } },
      ]),
      store.apply([{ kind: "audit.append", record: { seq: 1, body: "not json", hash: "h" } }]),
      store.apply([{ kind: "meta.put", key: "k", value: undefined }]),
      store.apply([{ kind: "nonsense" } as unknown as Mutation]),
      store.apply([{ kind: "process.put", process: processRecord("p_9") }]),
    ]);
    for (const result of results.slice(0, 4)) {
      assert.equal(result.status, "rejected");
      assert.ok(hasCode(result.reason, "EINVAL"), String(result.reason));
    }
    assert.equal(results[4]!.status, "fulfilled");
    const snapshot = await store.load();
    assert.deepEqual(snapshot.processes.map((p) => p.pid), ["p_9"]);
    assert.deepEqual(snapshot.meta, {});
    assert.equal(snapshot.auditHead, null);
  });

  test("puts of processes, grants, human requests, images and meta replace by key", async (store) => {
    await store.apply([
      { kind: "process.put", process: processRecord("p_1") },
      { kind: "grant.put", grant: grant("g_1", "p_1") },
      { kind: "human.put", request: humanRequest("h_1", "p_1") },
      { kind: "image.put", image: imageRecord("writer") },
      { kind: "meta.put", key: "nextPid", value: 2 },
    ]);
    const process = { ...processRecord("p_1"), state: "exited" as const, result: { ok: true } };
    const revoked = { ...grant("g_1", "p_1"), revoked: true, uses: 0 };
    const answered = { ...humanRequest("h_1", "p_1"), state: "approved" as const };
    const image = { ...imageRecord("writer"), version: "2.0.0" };
    await store.apply([
      { kind: "process.put", process },
      { kind: "grant.put", grant: revoked },
      { kind: "human.put", request: answered },
      { kind: "image.put", image },
      { kind: "meta.put", key: "nextPid", value: 3 },
    ]);
    const snapshot = await store.load();
    assert.deepEqual(snapshot.processes, [process]);
    assert.deepEqual(snapshot.grants, [revoked]);
    assert.deepEqual(snapshot.human, [answered]);
    assert.deepEqual(snapshot.images, [image]);
    assert.deepEqual(snapshot.meta, { nextPid: 3 });
  });

  test("object versions accumulate and load() returns only the latest", async (store) => {
    const v1 = objectRecord("o_1", 1, { text: "one" });
    const v2 = objectRecord("o_1", 2, { text: "two" });
    const v3 = objectRecord("o_1", 3, { text: "three" });
    const other = objectRecord("o_2", 1, { text: "other" });
    await store.apply([{ kind: "object.put", object: v1 }]);
    await store.apply([
      { kind: "object.put", object: v2 },
      { kind: "object.put", object: other },
      { kind: "object.put", object: v3 },
    ]);
    assert.deepEqual((await store.load()).objects, [v3, other]);
    assert.deepEqual(await store.readObjectVersions("o_1"), [v1, v2, v3]);
    assert.deepEqual(await store.readObjectVersions("o_missing"), []);
    await assert.rejects(
      store.apply([{ kind: "object.put", object: objectRecord("o_1", 2, { text: "again" }) }]),
      (error) => hasCode(error, "EEXIST"),
    );
    assert.deepEqual(await store.readObjectVersions("o_1"), [v1, v2, v3]);
  });

  test("object.delete hides the object from load() but keeps its versions", async (store) => {
    const v1 = objectRecord("o_1", 1, { text: "one" });
    const v2 = objectRecord("o_1", 2, { text: "two" });
    const kept = objectRecord("o_2", 1, { text: "kept" });
    await store.apply([
      { kind: "object.put", object: v1 },
      { kind: "object.put", object: v2 },
      { kind: "object.put", object: kept },
    ]);
    await store.apply([{ kind: "object.delete", oid: "o_1" }]);
    assert.deepEqual((await store.load()).objects, [kept]);
    assert.deepEqual(await store.readObjectVersions("o_1"), [v1, v2]);

    const v3 = objectRecord("o_1", 3, { text: "revived" });
    await store.apply([{ kind: "object.put", object: v3 }]);
    assert.deepEqual((await store.load()).objects, [v3, kept]);
  });

  test("object.redact replaces one stored version in place; the head and other versions stay", async (store) => {
    const v1 = objectRecord("o_1", 1, { text: "one" });
    const v2 = objectRecord("o_1", 2, { text: "two" });
    await store.apply([{ kind: "object.put", object: v1 }, { kind: "object.put", object: v2 }]);
    const purged1 = { ...v1, payload: { purged: true, sha256: "a".repeat(64), size: 14 } };
    const purged2 = { ...v2, payload: { purged: true, sha256: "b".repeat(64), size: 14 } };
    await store.apply([{ kind: "object.redact", object: purged1 }]);
    assert.deepEqual(await store.readObjectVersions("o_1"), [purged1, v2]);
    await store.apply([{ kind: "object.redact", object: purged2 }]);
    assert.deepEqual((await store.load()).objects, [purged2]);
    assert.deepEqual(await store.readObjectVersions("o_1"), [purged1, purged2]);
  });

  test("journal.redact replaces an entry in place; heads and neighbours stay", async (store) => {
    await store.apply([journalAppend("p_1", 1), journalAppend("p_1", 2), journalAppend("p_2", 1)]);
    const redacted = { ...journalEntry("p_1", 1), data: { purged: true, sha256: "c", size: 2 } };
    await store.apply([{ kind: "journal.redact", entry: redacted }]);
    assert.deepEqual(await store.readJournal("p_1"), [redacted, journalEntry("p_1", 2)]);
    assert.deepEqual(await store.readJournal("p_2"), [journalEntry("p_2", 1)]);
    assert.deepEqual((await store.load()).journalHeads, { p_1: 2, p_2: 1 });
  });

  test("listObjectIds() names every object of a namespace, deleted ones too, sorted", async (store) => {
    const other = { ...objectRecord("o_3", 1, {}), namespace: "proc/p_2" };
    await store.apply([
      { kind: "object.put", object: objectRecord("o_2", 1, {}) },
      { kind: "object.put", object: objectRecord("o_1", 1, {}) },
      { kind: "object.put", object: other },
    ]);
    await store.apply([{ kind: "object.delete", oid: "o_2" }]);
    assert.deepEqual(await store.listObjectIds(objectRecord("o_1", 1, {}).namespace), [
      "o_1",
      "o_2",
    ]);
    assert.deepEqual(await store.listObjectIds("proc/p_2"), ["o_3"]);
    assert.deepEqual(await store.listObjectIds("proc/p_none"), []);
  });

  test("readObjects() gives the newest version of each live object of a namespace, by oid", async (store) => {
    await store.apply([
      { kind: "object.put", object: objectRecord("o_2", 1, { text: "two" }) },
      { kind: "object.put", object: objectRecord("o_1", 1, { text: "one" }) },
      { kind: "object.put", object: objectRecord("o_3", 1, { text: "gone" }) },
      { kind: "object.put", object: { ...objectRecord("o_4", 1, {}), namespace: "proc/p_2" } },
    ]);
    await store.apply([
      { kind: "object.put", object: objectRecord("o_1", 2, { text: "one, again" }) },
      { kind: "object.delete", oid: "o_3" },
    ]);
    assert.deepEqual(await store.readObjects("proc/p_1"), [
      objectRecord("o_1", 2, { text: "one, again" }),
      objectRecord("o_2", 1, { text: "two" }),
    ]);
    assert.deepEqual((await store.readObjects("proc/p_2")).map((o) => o.oid), ["o_4"]);
    assert.deepEqual(await store.readObjects("proc/p_none"), []);
  });

  test("a redact of a missing entry or version is ENOENT and rejects its whole batch", async (store) => {
    const v1 = objectRecord("o_1", 1, { text: "one" });
    await store.apply([{ kind: "object.put", object: v1 }, journalAppend("p_1", 1)]);
    const purgedEntry = { ...journalEntry("p_1", 1), data: { purged: true, sha256: "d", size: 2 } };
    const purgedObject = { ...v1, payload: { purged: true, sha256: "e", size: 14 } };
    for (
      const missing of [
        { kind: "journal.redact", entry: journalEntry("p_1", 2) },
        { kind: "journal.redact", entry: journalEntry("p_9", 1) },
        { kind: "object.redact", object: objectRecord("o_1", 2, {}) },
        { kind: "object.redact", object: objectRecord("o_9", 1, {}) },
      ] satisfies Mutation[]
    ) {
      await assert.rejects(
        store.apply([
          { kind: "journal.redact", entry: purgedEntry },
          { kind: "object.redact", object: purgedObject },
          { kind: "process.put", process: processRecord("p_1") },
          missing,
        ]),
        (error) => hasCode(error, "ENOENT"),
      );
    }
    // Nothing of the rejected batches landed: all kept.
    assert.deepEqual(await store.readJournal("p_1"), [journalEntry("p_1", 1)]);
    assert.deepEqual(await store.readObjectVersions("o_1"), [v1]);
    assert.deepEqual((await store.load()).processes, []);
  });

  test("object.delete of an unknown oid rejects with ENOENT", async (store) => {
    await assert.rejects(
      store.apply([{ kind: "object.delete", oid: "o_missing" }]),
      (error) => hasCode(error, "ENOENT"),
    );
  });

  test("readJournal() returns one process's entries in seq order, after afterSeq, up to limit", async (store) => {
    await store.apply([6, 7, 8, 9, 10].map((seq) => journalAppend("p_1", seq)));
    await store.apply([
      ...[1, 2, 3].map((seq) => journalAppend("p_1", seq)),
      journalAppend("p_2", 1),
      ...[4, 5].map((seq) => journalAppend("p_1", seq)),
    ]);
    const seqs = async (query?: { afterSeq?: number; limit?: number }) =>
      (await store.readJournal("p_1", query)).map((e) => e.seq);
    assert.deepEqual(await seqs(), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.deepEqual(await seqs({ afterSeq: 3, limit: 4 }), [4, 5, 6, 7]);
    assert.deepEqual(await seqs({ afterSeq: 8 }), [9, 10]);
    assert.deepEqual(await seqs({ limit: 0 }), []);
    assert.deepEqual(await seqs({ afterSeq: 10 }), []);
    assert.deepEqual(await store.readJournal("p_2"), [journalEntry("p_2", 1)]);
    assert.deepEqual(await store.readJournal("p_none"), []);
  });

  test("readAudit() returns records in seq order, after afterSeq, limited to 1000 by default", async (store) => {
    const records = Array.from({ length: 1005 }, (_, i) => audit(i + 1, `p_${i % 3}`, "tick"));
    await store.apply(records.slice(500).map((record) => ({ kind: "audit.append", record })));
    await store.apply(records.slice(0, 500).map((record) => ({ kind: "audit.append", record })));
    const all = await store.readAudit();
    assert.equal(all.length, 1000);
    assert.deepEqual(all, records.slice(0, 1000));
    assert.deepEqual(await store.readAudit({ afterSeq: 1000 }), records.slice(1000));
    assert.deepEqual(await store.readAudit({ afterSeq: 10, limit: 3 }), records.slice(10, 13));
    assert.deepEqual(await store.readAudit({ limit: 0 }), []);
  });

  test("readAudit() filters by pid, by action, and by both", async (store) => {
    const records = [
      audit(1, "p_1", "spawn"),
      audit(2, "p_2", "spawn"),
      audit(3, "p_1", "fs.write"),
      audit(4, null, "kernel.boot"),
      audit(5, "p_1", "spawn"),
      audit(6, "p_2", "fs.write"),
    ];
    await store.apply(records.map((record) => ({ kind: "audit.append", record })));
    const seqs = async (query: { pid?: string; action?: string; afterSeq?: number }) =>
      (await store.readAudit(query)).map((r) => r.seq);
    assert.deepEqual(await seqs({ pid: "p_1" }), [1, 3, 5]);
    assert.deepEqual(await seqs({ action: "spawn" }), [1, 2, 5]);
    assert.deepEqual(await seqs({ pid: "p_1", action: "spawn" }), [1, 5]);
    assert.deepEqual(await seqs({ pid: "p_1", afterSeq: 1 }), [3, 5]);
    assert.deepEqual(await seqs({ action: "kernel.boot" }), [4]);
    assert.deepEqual(await seqs({ pid: "p_9" }), []);
    assert.deepEqual(await store.readAudit({ pid: "p_2" }), [records[1], records[5]]);
  });

  test("load() reports journalHeads per pid and the auditHead", async (store) => {
    const empty = await store.load();
    assert.deepEqual(empty.journalHeads, {});
    assert.equal(empty.auditHead, null);
    await store.apply([
      journalAppend("p_1", 1),
      journalAppend("p_1", 2),
      journalAppend("p_2", 1),
      { kind: "audit.append", record: audit(1, "p_1", "spawn") },
      { kind: "audit.append", record: audit(2, "p_2", "spawn") },
    ]);
    await store.apply([journalAppend("p_1", 3)]);
    const snapshot = await store.load();
    assert.deepEqual(snapshot.journalHeads, { p_1: 3, p_2: 1 });
    assert.deepEqual(snapshot.auditHead, audit(2, "p_2", "spawn"));
  });

  test("meta values round-trip", async (store) => {
    const values: Record<string, unknown> = {
      nextPid: 42,
      name: "kernel-a",
      flag: false,
      nothing: null,
      list: [1, "two", null, { three: 3 }],
      nested: { a: { b: { c: [true, 1.5, -2] } }, empty: {} },
    };
    await store.apply(
      Object.entries(values).map(([key, value]) => ({ kind: "meta.put", key, value })),
    );
    assert.deepEqual((await store.load()).meta, values);
  });

  test("every record kind round-trips exactly, nulls and nested values included", async (store) => {
    const process: ProcessRecord = {
      ...processRecord("p_2"),
      parentPid: "p_1",
      lineage: ["p_1"],
      state: "waiting",
      wait: { kind: "human", requestId: "h_1" },
      cursor: {
        turn: 3,
        calls: [{ id: "c3.0", name: "write_text_file", args: { path: "a.txt", text: "x\ny" } }],
        next: 0,
        invalid: 0,
      },
      result: { nested: { list: [1, null, "é☃"] } },
      budgets: { steps: 10, tokens: 1000 },
      startedAt: 1_700_000_000_500,
    };
    const records = {
      process,
      grant: { ...grant("g_2", "p_2"), parentId: "g_1", uses: 1, expiresAt: 1_800_000_000_000 },
      object: {
        ...objectRecord("o_1", 1, { deep: { a: [null, { b: "c" }] }, n: null }),
        links: [{ rel: "derived-from", oid: "o_0" }],
      },
      entry: journalEntry("p_2", 1, { result: { ok: false, error: { code: "EPERM" } }, z: null }),
      record: audit(1, "p_2", "fs.write"),
      request: humanRequest("h_1", "p_2"),
      image: imageRecord("writer"),
    };
    await store.apply([
      { kind: "process.put", process: records.process },
      { kind: "grant.put", grant: records.grant },
      { kind: "object.put", object: records.object },
      { kind: "journal.append", entry: records.entry },
      { kind: "audit.append", record: records.record },
      { kind: "human.put", request: records.request },
      { kind: "image.put", image: records.image },
    ]);
    const snapshot = await store.load();
    assert.deepEqual(snapshot.processes, [records.process]);
    assert.deepEqual(snapshot.grants, [records.grant]);
    assert.deepEqual(snapshot.objects, [records.object]);
    assert.deepEqual(snapshot.human, [records.request]);
    assert.deepEqual(snapshot.images, [records.image]);
    assert.deepEqual(snapshot.auditHead, records.record);
    assert.deepEqual(await store.readJournal("p_2"), [records.entry]);
    assert.deepEqual(await store.readObjectVersions("o_1"), [records.object]);
  });

  test("the store keeps its own copy: changing a record after apply() or after load() has no effect", async (store) => {
    const process = processRecord("p_1");
    const applied = store.apply([{ kind: "process.put", process }]);
    process.state = "killed";
    process.tools.push("run_shell");
    await applied;
    const loaded = (await store.load()).processes[0]!;
    assert.deepEqual(loaded, processRecord("p_1"));
    loaded.goal = "changed";
    assert.deepEqual((await store.load()).processes, [processRecord("p_1")]);
  });

  test("apply() after close() rejects with ESTATE, and close() is idempotent", async (store) => {
    const pending = store.apply([{ kind: "process.put", process: processRecord("p_1") }]);
    await store.close();
    await pending;
    await store.close();
    await assert.rejects(
      store.apply([{ kind: "process.put", process: processRecord("p_2") }]),
      (error) => hasCode(error, "ESTATE"),
    );
    await assert.rejects(store.load(), (error) => hasCode(error, "ESTATE"));
  });

  test("many concurrent applies all resolve and all land", async (store) => {
    const callers = 50;
    const rounds = 20;
    let seq = 0;
    await Promise.all(
      Array.from({ length: callers }, async (_, caller) => {
        const pid = `p_${caller}`;
        for (let round = 1; round <= rounds; round++) {
          await store.apply([
            journalAppend(pid, round),
            { kind: "audit.append", record: audit(++seq, pid, "tick") },
          ]);
        }
      }),
    );
    const snapshot = await store.load();
    assert.equal(Object.keys(snapshot.journalHeads).length, callers);
    assert.ok(Object.values(snapshot.journalHeads).every((head) => head === rounds));
    assert.equal(snapshot.auditHead?.seq, callers * rounds);
    const log = await store.readAudit({ limit: callers * rounds });
    assert.deepEqual(
      log.map((r) => r.seq),
      Array.from({ length: callers * rounds }, (_, i) => i + 1),
    );
    assert.equal((await store.readJournal("p_7")).length, rounds);
  });

  test("checkpoints are immutable, found from every member, listed oldest first, read back exactly", async (store) => {
    const info = (id: string, pid: string, pids: string[], createdAt: number) => ({
      id,
      pid,
      pids,
      reason: id === "ck_1" ? "before the risky part" : null,
      createdAt,
      createdBy: "operator",
      journalSeq: 3,
      hash: "0".repeat(64),
    });
    const first = {
      ...info("ck_1", "p_1", ["p_1", "p_2"], T0),
      content: {
        processes: [{
          process: processRecord("p_1"),
          journalSeq: 3,
          grants: [grant("g_1", "p_1")],
          objects: [objectRecord("o_1", 2, { text: "x" })],
          human: [humanRequest("h_1", "p_1")],
        }],
      },
    };
    const second = { ...info("ck_2", "p_2", ["p_2"], T0 + 1), content: { processes: [] } };
    await store.apply([{ kind: "checkpoint.put", checkpoint: first }, {
      kind: "checkpoint.put",
      checkpoint: second,
    }]);
    assert.deepEqual(await store.readCheckpoint("ck_1"), first);
    assert.equal(await store.readCheckpoint("ck_9"), null);
    assert.deepEqual((await store.listCheckpoints("p_2")).map((c) => c.id), ["ck_1", "ck_2"]);
    assert.deepEqual(await store.listCheckpoints("p_1"), [info("ck_1", "p_1", ["p_1", "p_2"], T0)]);
    await assert.rejects(
      store.apply([{ kind: "checkpoint.put", checkpoint: second }]),
      (e) => hasCode(e, "EEXIST"),
    );
  });

  test("reserveIds() gives disjoint blocks however calls race, honours atLeast, and releaseIds() gives back only the last block's tail", async (store) => {
    const firsts = await Promise.all([1, 2, 3, 4].map(() => store.reserveIds("pid", 10)));
    const ids = firsts.flatMap((f) => Array.from({ length: 10 }, (_, i) => f + i));
    assert.equal(new Set(ids).size, 40);
    assert.deepEqual([...firsts].sort((a, b) => a - b), [1, 11, 21, 31]);
    assert.equal(await store.reserveIds("grant", 5, { atLeast: 100 }), 101);
    assert.equal(await store.reserveIds("grant", 5, { atLeast: 3 }), 106);
    // The tail of the last block comes back; an earlier block's does not.
    await store.releaseIds("grant", 108, 111);
    assert.equal(await store.reserveIds("grant", 1), 108);
    await store.releaseIds("pid", 35, 41);
    await store.releaseIds("pid", 5, 11);
    assert.equal(await store.reserveIds("pid", 1), 35);
    await assert.rejects(store.reserveIds("pid", 0), RangeError);
  });

  test("a kernel declared dead has its writes and heartbeats refused with EFENCED; nothing of the batch lands", async (store) => {
    const fence = await store.registerKernel({ host: "h", pid: 1, ttlMs: 30 });
    await store.apply([{ kind: "process.put", process: processRecord("p_1") }], { fence });
    await store.heartbeat(fence);
    // A shared store declares a kernel dead only once its lease expired.
    const deadline = Date.now() + 5_000;
    while (!(await store.declareDead(fence.kernel, fence.epoch))) {
      assert.ok(Date.now() < deadline, "the lease never expired");
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(await store.declareDead(fence.kernel, fence.epoch), false);
    const bad = store.apply([
      { kind: "process.put", process: processRecord("p_2") },
      { kind: "journal.append", entry: journalEntry("p_1", 1) },
    ], { fence });
    await assert.rejects(bad, (e) => hasCode(e, "EFENCED"));
    await assert.rejects(store.heartbeat(fence), (e) => hasCode(e, "EFENCED"));
    const snapshot = await store.load();
    assert.deepEqual(snapshot.processes.map((p) => p.pid), ["p_1"]);
    assert.deepEqual(snapshot.journalHeads, {});
    const view = await store.listKernels();
    const k = view.kernels.find((k) => k.id === fence.kernel);
    assert.equal(k?.state, "dead");
    assert.equal(k?.epoch, fence.epoch + 1);
    // A new kernel writes (an unfenced write is not checked).
    const next = await store.registerKernel({ host: "h", pid: 2, ttlMs: 5_000 });
    assert.notEqual(next.kernel, fence.kernel);
    await store.apply([{ kind: "journal.append", entry: journalEntry("p_1", 1) }], {
      fence: next,
    });
    await store.apply([{ kind: "journal.append", entry: journalEntry("p_1", 2) }]);
    assert.deepEqual((await store.load()).journalHeads, { p_1: 2 });
  });

  test("readProcesses() filters by pids, state and parent, all given must match, in pid order", async (store) => {
    const child = (pid: string, parent: string) => ({
      ...processRecord(pid),
      parentPid: parent,
      lineage: [parent],
    });
    await store.apply([
      { kind: "process.put", process: processRecord("p_1") },
      { kind: "process.put", process: child("p_2", "p_1") },
      { kind: "process.put", process: { ...child("p_3", "p_1"), state: "exited" as const } },
      { kind: "process.put", process: { ...processRecord("p_10"), state: "exited" as const } },
    ]);
    const pids = async (q: Parameters<Store["readProcesses"]>[0]) =>
      (await store.readProcesses(q)).map((p) => p.pid);
    assert.deepEqual(await pids(undefined), ["p_1", "p_10", "p_2", "p_3"]);
    assert.deepEqual(await pids({ pids: ["p_3", "p_1", "p_404"] }), ["p_1", "p_3"]);
    assert.deepEqual(await pids({ pids: [] }), []);
    assert.deepEqual(await pids({ state: "exited" }), ["p_10", "p_3"]);
    assert.deepEqual(await pids({ parent: "p_1" }), ["p_2", "p_3"]);
    assert.deepEqual(await pids({ parent: "p_1", state: "runnable" }), ["p_2"]);
    assert.deepEqual(await pids({ pids: ["p_2", "p_10"], state: "exited" }), ["p_10"]);
    assert.deepEqual(await pids({ parent: "p_404" }), []);
    // A put replaces: the filter sees the new state.
    await store.apply([{
      kind: "process.put",
      process: { ...processRecord("p_1"), state: "killed" },
    }]);
    assert.deepEqual(await pids({ state: "runnable" }), ["p_2"]);
    assert.deepEqual(await store.readProcesses({ pids: ["p_2"] }), [child("p_2", "p_1")]);
  });

  test("readHumanRequests() filters by ids, state and pid, all given must match, in id order", async (store) => {
    const decided = {
      ...humanRequest("h_2", "p_1"),
      state: "approved" as const,
      decidedAt: T0 + 1,
      decidedBy: "operator:admin",
    };
    await store.apply([
      { kind: "human.put", request: humanRequest("h_1", "p_1") },
      { kind: "human.put", request: decided },
      { kind: "human.put", request: humanRequest("h_10", "p_2") },
    ]);
    const ids = async (q: Parameters<Store["readHumanRequests"]>[0]) =>
      (await store.readHumanRequests(q)).map((r) => r.id);
    assert.deepEqual(await ids(undefined), ["h_1", "h_10", "h_2"]);
    assert.deepEqual(await ids({ ids: ["h_2", "h_404"] }), ["h_2"]);
    assert.deepEqual(await ids({ ids: [] }), []);
    assert.deepEqual(await ids({ state: "pending" }), ["h_1", "h_10"]);
    assert.deepEqual(await ids({ pid: "p_1" }), ["h_1", "h_2"]);
    assert.deepEqual(await ids({ pid: "p_1", state: "pending" }), ["h_1"]);
    assert.deepEqual(await ids({ ids: ["h_1", "h_10"], pid: "p_2" }), ["h_10"]);
    assert.deepEqual(await store.readHumanRequests({ ids: ["h_2"] }), [decided]);
  });

  test("command records are put, replaced, read back exactly, and purged by expiry", async (store) => {
    const pending = commandRecord("admin:k1", T0 + 10);
    const other = commandRecord("t_2:k1", T0 + 20);
    await store.apply([
      { kind: "process.put", process: processRecord("p_1") },
      { kind: "command.put", command: pending },
      { kind: "command.put", command: other },
    ]);
    assert.deepEqual(await store.readCommand("admin:k1"), pending);
    assert.equal(await store.readCommand("admin:k2"), null);
    const done = {
      ...pending,
      state: "done" as const,
      response: {
        status: 201,
        body: '{"pid":"p_1"}',
        headers: { "content-type": "application/json" },
      },
    };
    await store.apply([{ kind: "command.put", command: done }]);
    assert.deepEqual(await store.readCommand("admin:k1"), done);
    // A rejected batch takes its command record with it.
    await assert.rejects(
      store.apply([
        { kind: "command.put", command: commandRecord("admin:k3", T0) },
        { kind: "command.put", command: { ...pending, expiresAt: -1 } },
      ]),
      (e) => hasCode(e, "EINVAL"),
    );
    assert.equal(await store.readCommand("admin:k3"), null);
    await store.apply([{ kind: "command.purge", before: T0 + 10 }]);
    assert.equal(await store.readCommand("admin:k1"), null);
    assert.deepEqual(await store.readCommand("t_2:k1"), other);
  });

  test("messages come out unclaimed in seq order per channel, and round-trip exactly", async (store) => {
    const a = [
      message("m_2", 2, "mbox:a"),
      message("m_10", 10, "mbox:a"),
      message("m_3", 3, "mbox:b"),
    ];
    await store.apply(a.map((m) => ({ kind: "message.put", message: m })));
    assert.deepEqual(await store.nextMessages("mbox:a", 10), [a[0], a[1]]);
    assert.deepEqual(await store.nextMessages("mbox:a", 1), [a[0]]);
    assert.deepEqual(await store.nextMessages("mbox:c", 10), []);
    await assert.rejects(
      store.apply([{ kind: "message.put", message: message("m_2", 2, "mbox:a") }]),
      (e) => hasCode(e, "EEXIST"),
    );
  });

  test("a message is claimed by one receive call only: again by the same is a no-op, by another EBUSY", async (store) => {
    await store.apply([
      { kind: "message.put", message: message("m_1", 1, "mbox:a") },
      { kind: "message.put", message: message("m_2", 2, "mbox:a") },
    ]);
    const claim = (id: string, pid: string, key: string): Mutation => ({
      kind: "message.claim",
      id,
      pid,
      key,
      at: T0 + 5,
    });
    await store.apply([claim("m_1", "p_1", "c1.0#1")]);
    await store.apply([claim("m_1", "p_1", "c1.0#1")]);
    await assert.rejects(store.apply([claim("m_1", "p_2", "c1.0#1")]), (e) => hasCode(e, "EBUSY"));
    await assert.rejects(store.apply([claim("m_9", "p_2", "c1.0#1")]), (e) => hasCode(e, "ENOENT"));
    // A rejected batch takes everything in it back.
    await assert.rejects(
      store.apply([
        { kind: "process.put", process: processRecord("p_7") },
        claim("m_2", "p_2", "c1.0#1"),
        claim("m_1", "p_2", "c1.0#2"),
      ]),
      (e) => hasCode(e, "EBUSY"),
    );
    assert.deepEqual((await store.load()).processes, []);
    assert.deepEqual((await store.nextMessages("mbox:a", 10)).map((m) => m.id), ["m_2"]);
    assert.deepEqual(await store.claimedMessage("p_1", "c1.0#1"), {
      ...message("m_1", 1, "mbox:a"),
      claimedBy: "p_1",
      claimKey: "c1.0#1",
      claimedAt: T0 + 5,
    });
    assert.equal(await store.claimedMessage("p_2", "c1.0#1"), null);
  });

  test("of concurrent batches claiming one message, exactly one lands; the others reject alone", async (store) => {
    await store.apply([{ kind: "message.put", message: message("m_1", 1, "mbox:a") }]);
    const results = await Promise.allSettled([
      store.apply([{ kind: "process.put", process: processRecord("p_9") }]),
      ...[1, 2, 3].map((n) =>
        store.apply([{ kind: "message.claim", id: "m_1", pid: `p_${n}`, key: "c1.0#1", at: T0 }])
      ),
    ]);
    assert.deepEqual(results.map((r) => r.status), [
      "fulfilled",
      "fulfilled",
      "rejected",
      "rejected",
    ]);
    for (const r of results.slice(2)) {
      assert.ok(r.status === "rejected" && hasCode(r.reason, "EBUSY"), String(r));
    }
    assert.equal((await store.claimedMessage("p_1", "c1.0#1"))?.id, "m_1");
    assert.deepEqual((await store.load()).processes.map((p) => p.pid), ["p_9"]);
  });

  clusterContractCases(test, { commandRecord, grant, processRecord });
}
