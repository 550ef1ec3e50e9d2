/**
 * Objects several kernels' processes share: a kernel brings its object
 * memory up to the store before an object call, so a process on one kernel
 * sees, writes and lists what a process on another kernel created or wrote
 * (versions go on from the stored one; no kernel stops on a version clash).
 */
import assert from "node:assert/strict";
import { Kernel, MemoryFilesystem, PostgresStore } from "../../mod.ts";
import { call, scripted, toolResults } from "../helpers.ts";
import { postgresTest } from "../postgres_kit.ts";

const SHARED = [{ resource: "obj:shared/**", rights: ["read", "write"] }, {
  resource: "ns:shared",
  rights: ["list"],
}];

async function run(kernel: Kernel, steps: ReturnType<typeof call>[]) {
  const p = await kernel.spawn({
    image: scripted([...steps, call("exit", { result: null })], { capabilities: SHARED }),
    goal: "shared",
  });
  const done = await kernel.wait(p.pid, { until: "terminal" });
  assert.equal(done.state, "exited", done.reason ?? "");
  return (await toolResults(kernel, p.pid)).map((r) => r.result);
}

postgresTest(
  "a shared object written on one kernel is seen, written and listed on another; versions go on",
  "libos-shared-objects-",
  async (_dir, url) => {
    await using a = await Kernel.create({
      store: await PostgresStore.open(url),
      filesystem: new MemoryFilesystem(),
    });
    await using b = await Kernel.create({
      store: await PostgresStore.open(url),
      filesystem: new MemoryFilesystem(),
    });
    const created = await run(a, [
      call("create_object", {
        namespace: "shared",
        name: "board",
        type: "note",
        payload: { text: "from a" },
      }),
    ]);
    assert.ok(created[0]!.ok, JSON.stringify(created[0]));
    // B never held the object: it reads A's version, then writes version 2.
    const onB = await run(b, [
      call("read_object", { ref: "shared/board" }),
      call("write_object", { ref: "shared/board", payload: { text: "from b" } }),
      call("list_objects", { namespace: "shared" }),
    ]);
    assert.ok(onB.every((r) => r.ok), JSON.stringify(onB));
    const seen = onB[0] as { ok: true; value: { payload: unknown; version: number } };
    assert.deepEqual(seen.value.payload, { text: "from a" });
    assert.equal((onB[1] as { ok: true; value: { version: number } }).value.version, 2);
    assert.deepEqual(
      (onB[2] as { ok: true; value: { objects: { name: string; version: number }[] } }).value
        .objects.map((o) => [o.name, o.version]),
      [["board", 2]],
    );
    // A held version 1: it writes version 3 on top of B's, not a second version 2.
    const again = await run(a, [
      call("write_object", { ref: "shared/board", payload: { text: "from a again" } }),
      call("read_object", { ref: "shared/board" }),
    ]);
    assert.ok(again.every((r) => r.ok), JSON.stringify(again));
    assert.equal((again[0] as { ok: true; value: { version: number } }).value.version, 3);
    const oid = (again[1] as { ok: true; value: { oid: string } }).value.oid;
    const versions = await a.store.readObjectVersions(oid);
    assert.deepEqual(versions.map((v) => [v.version, v.payload]), [
      [1, { text: "from a" }],
      [2, { text: "from b" }],
      [3, { text: "from a again" }],
    ]);
    assert.equal(a.fault, null);
    assert.equal(b.fault, null);
  },
);
