/**
 * One durable commit per step: a step whose results are safe to redo goes on
 * without waiting for its batch, which lands with the next step's first
 * commit; a step with a result that is not safe to redo waits for it. A
 * crash between the two loses neither an effect nor does it repeat one.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Kernel, LocalFilesystem, type Mutation, SqliteStore } from "../mod.ts";
import { CrashableStore } from "../runtime/testing/mod.ts";
import { call, scripted, toolResults } from "./helpers.ts";

interface Applied {
  syscalls: string[];
  behind: boolean;
}

/** A SQLite store whose applies are recorded: the syscall results each carries, and how. */
async function spiedStore(path: string): Promise<{ store: SqliteStore; applied: Applied[] }> {
  const store = await SqliteStore.open(path);
  const applied: Applied[] = [];
  const apply = store.apply.bind(store);
  store.apply = (batch: readonly Mutation[], options = {}) => {
    const syscalls = batch.flatMap((m) =>
      m.kind === "journal.append" && m.entry.kind === "syscall"
        ? [String(m.entry.data["name"])]
        : []
    );
    applied.push({ syscalls, behind: options.behind === true });
    return apply(batch, options);
  };
  return { store, applied };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "libos-behind-" });
  try {
    await Deno.mkdir(join(dir, "ws"));
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a lone process writing files commits once per step; a result not safe to redo is waited for", async () => {
  await withDir(async (dir) => {
    const { store, applied } = await spiedStore(join(dir, "kernel.db"));
    await using kernel = await Kernel.create({
      store,
      filesystem: new LocalFilesystem(join(dir, "ws")),
    });
    const steps = 20;
    const p = await kernel.spawn({
      image: scripted([
        ...Array.from(
          { length: steps },
          (_, i) => call("write_text_file", { path: `out/${i}.txt`, text: `${i}` }),
        ),
        call("create_object", { name: "note", type: "note", payload: { text: "once" } }),
        call("exit", { result: null }),
      ], {
        capabilities: [
          { resource: "fs:out/**", rights: ["write"] },
          { resource: "obj:proc/*/**", rights: ["read", "write"] },
        ],
      }),
      goal: "write",
    });
    const before = store.stats.transactions;
    const done = await kernel.wait(p.pid, { until: "terminal" });
    assert.equal(done.state, "exited", done.reason ?? "");
    const results = await toolResults(kernel, p.pid);
    assert.ok(results.every((r) => r.result.ok), JSON.stringify(results.find((r) => !r.result.ok)));
    // Every fs.write result was handed over behind; the object's was waited for.
    const writes = applied.filter((a) => a.syscalls.includes("fs.write"));
    assert.equal(writes.length, steps);
    assert.ok(writes.every((a) => a.behind), "fs.write results ride with the next commit");
    const object = applied.filter((a) => a.syscalls.includes("obj.create"));
    assert.equal(object.length, 1);
    assert.equal(
      object[0]!.behind,
      false,
      "obj.create is not safe to redo: its result is waited for",
    );
    // About one transaction per step (a step's intent with the previous step's result).
    const transactions = store.stats.transactions - before;
    assert.ok(
      transactions <= steps + 6,
      `${transactions} transactions for ${steps + 2} steps: expected about one each`,
    );
  });
});

Deno.test("a crash that loses a batch handed over behind repeats no effect: the write settles from evidence", async () => {
  await withDir(async (dir) => {
    const ws = join(dir, "ws");
    const image = scripted([
      ...Array.from(
        { length: 5 },
        (_, i) => call("write_text_file", { path: `out/${i}.txt`, text: `v${i}` }),
      ),
      call("exit", { result: "done" }),
    ], { capabilities: [{ resource: "fs:out/**", rights: ["write"] }] });
    const inner = await SqliteStore.open(join(dir, "kernel.db"));
    const store = new CrashableStore(inner);
    // The kernel dies before the batch with the third write's result lands
    // (it was handed over behind): no later batch lands either.
    store.crashAt((batch) =>
      batch.some((m) =>
          m.kind === "journal.append" && m.entry.kind === "syscall" &&
          (m.entry.data["value"] as { path?: string } | undefined)?.path === "out/2.txt"
        )
        ? "before"
        : null
    );
    const first = await Kernel.create({ store, filesystem: new LocalFilesystem(ws) });
    await first.spawn({ image, goal: "write" });
    await waitFor(() => store.crashed);
    // The write itself happened: its intent landed before it.
    assert.equal(await Deno.readTextFile(join(ws, "out", "2.txt")), "v2");
    const inode = (await Deno.stat(join(ws, "out", "2.txt"))).ino;
    await using kernel = await Kernel.create({ store: inner, filesystem: new LocalFilesystem(ws) });
    const done = await kernel.wait("p_1", { until: "terminal" });
    assert.equal(done.state, "exited", done.reason ?? "");
    for (let i = 0; i < 5; i++) {
      assert.equal(await Deno.readTextFile(join(ws, "out", `${i}.txt`)), `v${i}`);
    }
    assert.equal(
      (await Deno.stat(join(ws, "out", "2.txt"))).ino,
      inode,
      "settled from the file's evidence, not written again",
    );
    const results = await toolResults(kernel, "p_1");
    assert.deepEqual(results.map((r) => r.result.ok), [true, true, true, true, true, true]);
    assert.ok((await kernel.verifyAudit()).ok);
  });
});

/** Waits until `ready` (bounded: 400 looks, a macrotask apart). */
async function waitFor(ready: () => boolean): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (ready()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error("never ready");
}
