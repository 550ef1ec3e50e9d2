import assert from "node:assert/strict";
import { join } from "node:path";
import { LibosError } from "../errors.ts";
import { SqliteStore } from "./sqlite_store.ts";
import { THREAD_GROUP } from "./sqlite_writer.ts";
import { journalAppend, processRecord } from "../testing/store_records.ts";

const dir = Deno.makeTempDirSync({ prefix: "libos_sqlite_thread_test_" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
let files = 0;
const tempPath = () => join(dir, `store_${++files}.db`);

/**
 * Applies rounds of `width` concurrent batches (journal entries of processes
 * `p_0 … p_{width-1}`, one seq per round) until the writer thread has
 * committed a group; at most `rounds` rounds. Returns the next seq.
 */
async function untilThreadCommits(store: SqliteStore, width: number, rounds = 2_000) {
  let seq = 1;
  for (; seq <= rounds && store.stats.threadFlushes === 0; seq++) {
    await Promise.all(
      Array.from({ length: width }, (_, i) => store.apply([journalAppend(`p_${i}`, seq)])),
    );
  }
  assert.ok(
    store.stats.threadFlushes > 0,
    `no group reached the writer thread in ${rounds} rounds`,
  );
  return seq;
}

Deno.test("sqlite writer thread: concurrent batches are committed by the thread, in order, and read back", async () => {
  const path = tempPath();
  const width = THREAD_GROUP * 3;
  let last: number;
  {
    await using store = await SqliteStore.open(path);
    const next = await untilThreadCommits(store, 8);
    // Now a wide burst: more groups than one, each of at most THREAD_GROUP batches.
    const before = { ...store.stats };
    await Promise.all(
      Array.from({ length: width }, (_, i) => store.apply([journalAppend(`q_${i}`, 1)])),
    );
    assert.ok(store.stats.threadFlushes - before.threadFlushes >= 3);
    // A batch waited for after others lands after them: the process put last wins.
    const puts = Array.from({ length: 40 }, (_, i) => {
      const p = processRecord("p_order");
      return store.apply([{ kind: "process.put", process: { ...p, goal: `goal ${i}` } }]);
    });
    await Promise.all(puts);
    const snapshot = await store.load();
    assert.equal(snapshot.processes.find((p) => p.pid === "p_order")?.goal, "goal 39");
    for (let i = 0; i < width; i++) assert.equal(snapshot.journalHeads[`q_${i}`], 1);
    for (let i = 0; i < 8; i++) assert.equal(snapshot.journalHeads[`p_${i}`], next - 1);
    last = next - 1;
  }
  // Everything the thread committed is in the file after close.
  await using again = await SqliteStore.open(path);
  const heads = (await again.load()).journalHeads;
  assert.equal(heads["p_7"], last);
  assert.equal(heads[`q_${width - 1}`], 1);
});

Deno.test("sqlite writer thread: a bad batch in a thread group is refused alone, with its error", async () => {
  await using store = await SqliteStore.open(tempPath());
  const next = await untilThreadCommits(store, 8);
  const before = store.stats.threadFlushes;
  const results = await Promise.allSettled([
    store.apply([journalAppend("p_0", next)]),
    store.apply([journalAppend("p_0", next)]), // the same entry again
    store.apply([journalAppend("p_1", next)]),
  ]);
  assert.ok(store.stats.threadFlushes > before, "the group went to the thread");
  assert.deepEqual(results.map((r) => r.status), ["fulfilled", "rejected", "fulfilled"]);
  const error = (results[1] as PromiseRejectedResult).reason;
  assert.ok(error instanceof LibosError, `a LibosError, got ${error}`);
  // The same refusal as in the kernel's thread (an in-memory store has no thread).
  await using memory = await SqliteStore.open(":memory:");
  await memory.apply([journalAppend("p_0", 1)]);
  const inKernelThread = await memory.apply([journalAppend("p_0", 1)]).catch((e) => e);
  assert.equal(memory.stats.threadFlushes, 0);
  assert.equal(error.code, inKernelThread.code);
  assert.equal(error.code, "EEXIST");
  const heads = (await store.load()).journalHeads;
  assert.equal(heads["p_0"], next);
  assert.equal(heads["p_1"], next);
});

Deno.test("sqlite writer thread: ids reserved after thread groups follow what they committed", async () => {
  await using store = await SqliteStore.open(tempPath());
  await untilThreadCommits(store, 8);
  const pending = Array.from({ length: 50 }, (_, i) => store.apply([journalAppend(`r_${i}`, 1)]));
  // A reservation waits for the groups in the thread, then runs in the kernel's thread.
  const first = await store.reserveIds("pid", 5);
  await Promise.all(pending);
  assert.equal(await store.reserveIds("pid", 1), first + 5);
  assert.equal((await store.load()).journalHeads["r_49"], 1);
});

Deno.test("sqlite writer thread: a store left open does not keep its process alive", async () => {
  const path = tempPath();
  const script = join(dir, "left_open.ts");
  const store = new URL("./sqlite_store.ts", import.meta.url).href;
  const records = new URL("../testing/store_records.ts", import.meta.url).href;
  await Deno.writeTextFile(
    script,
    `import { SqliteStore } from "${store}";
     import { journalAppend } from "${records}";
     // Its writer thread would wait an hour before it goes.
     const s = await SqliteStore.open(${JSON.stringify(path)}, { writerThreadIdleMs: 3_600_000 });
     for (let seq = 1; seq <= 2000 && s.stats.threadFlushes === 0; seq++) {
       await Promise.all(Array.from({ length: 8 }, (_, i) => s.apply([journalAppend("p_" + i, seq)])));
     }
     console.log(s.stats.threadFlushes > 0 ? "thread" : "no thread");`,
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      `--config=${new URL("../../deno.json", import.meta.url).pathname}`,
      "--no-lock",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      script,
    ],
    stdout: "piped",
    stderr: "piped",
    // Bounds the test if it hangs.
    signal: AbortSignal.timeout(60_000),
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.equal(new TextDecoder().decode(out.stdout).trim(), "thread");
});
