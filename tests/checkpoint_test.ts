/**
 * Checkpoints: create and inspect, restore in place, diff, fork from one,
 * and bundles that move a process to another kernel.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeClock, Kernel, MemoryFilesystem, SqliteStore } from "../mod.ts";
import { bootKernel, call, outcome, scripted, toolResults } from "./helpers.ts";

/** A process that makes two objects, checkpoints itself, changes things, then sleeps. */
function workImage() {
  return scripted([
    call("create_object", { name: "a", type: "note", payload: { text: "v1" } }),
    call("checkpoint", { reason: "before edits" }),
    call("write_object", { ref: "a", payload: { text: "v2" } }),
    call("create_object", { name: "b", type: "note", payload: { text: "new" } }),
    call("sleep", { ms: 1000 }),
    call("exit", { result: "done" }),
  ], {
    capabilities: [{ resource: "checkpoint", rights: ["create"] }, {
      resource: "fs:**",
      rights: ["read"],
      delegable: true,
    }],
  });
}

Deno.test("the checkpoint tool needs the checkpoint create right", async () => {
  await using t = await bootKernel();
  const p = await t.kernel.spawn({
    image: scripted([call("checkpoint", {}), call("exit", { result: null })]),
    goal: "g",
  });
  await t.kernel.wait(p.pid, { until: "terminal" });
  const [ck] = await toolResults(t.kernel, p.pid);
  assert.equal(outcome(ck), "EPERM");
  assert.deepEqual(await t.kernel.listCheckpoints(p.pid), []);
});

Deno.test("a checkpoint holds the descriptor, grants, objects and journal position; list and inspect show it", async () => {
  await using t = await bootKernel();
  const p = await t.kernel.spawn({ image: workImage(), goal: "work" });
  assert.equal((await t.kernel.wait(p.pid)).state, "waiting");
  const [info] = await t.kernel.listCheckpoints(p.pid);
  assert.ok(info);
  assert.equal(info.reason, "before edits");
  assert.equal(info.createdBy, `pid:${p.pid}`);
  const full = await t.kernel.getCheckpoint(info.id);
  const [m] = full.content.processes;
  assert.deepEqual(m!.objects.map((o) => [o.name, o.payload]), [["a", { text: "v1" }]]);
  assert.deepEqual(m!.grants.map((g) => g.resource).sort(), ["checkpoint", "fs:**"]);
  assert.equal(m!.process.usage.steps, 2);
  const [ck] = await toolResults(t.kernel, p.pid).then((r) => r.slice(1, 2));
  assert.deepEqual((ck!.result as { value: unknown }).value, {
    checkpoint: info.id,
    restored: false,
  });
});

Deno.test("restore rolls objects and pending requests back (never spent usage), revokes later grants, and the checkpoint call answers restored", async () => {
  await using t = await bootKernel();
  const p = await t.kernel.spawn({ image: workImage(), goal: "work" });
  await t.kernel.wait(p.pid);
  const [info] = await t.kernel.listCheckpoints(p.pid);
  const later = await t.kernel.grant(p.pid, { resource: "fs:secret/**", rights: ["read"] });
  const auditBefore = t.kernel.auditHead!.seq;
  await t.kernel.signal(p.pid, "pause");
  const spent = t.kernel.get(p.pid).usage.steps;
  const restored = await t.kernel.restoreCheckpoint(info!.id, { actor: "operator:test" });
  assert.ok(spent > 2);
  assert.equal(restored.usage.steps, spent, "spent steps stay spent");
  assert.equal(restored.state, "suspended", "paused before the restore, it stays paused");
  assert.equal(restored.suspendedFrom, "runnable");
  assert.ok(
    t.kernel.capabilities(p.pid).find((g) => g.id === later.id)?.revoked,
    "a grant issued after the checkpoint is revoked",
  );
  assert.ok(t.kernel.auditHead!.seq > auditBefore, "the audit log grows, never rolls back");
  // Resumed, the process runs on from the checkpoint call, to the sleep again.
  await t.kernel.signal(p.pid, "resume");
  const again = await t.kernel.wait(p.pid);
  assert.equal(again.state, "waiting");
  const results = await toolResults(t.kernel, p.pid);
  const checkpoints = results.filter((r) => r.name === "checkpoint").map((r) =>
    (r.result as { value: unknown }).value
  );
  assert.deepEqual(checkpoints, [{ checkpoint: info!.id, restored: false }, {
    checkpoint: info!.id,
    restored: true,
  }]);
  const a = t.kernel.listObjects(`proc/${p.pid}`).find((o) => o.name === "a")!;
  assert.deepEqual(a.payload, { text: "v2" }, "re-run after the restore wrote v2 again");
  const versions = await t.kernel.store.readObjectVersions(a.oid);
  assert.deepEqual(versions.map((v) => v.payload), [
    { text: "v1" },
    { text: "v2" },
    { text: "v1" },
    { text: "v2" },
  ]);
  assert.equal(t.kernel.listObjects(`proc/${p.pid}`).filter((o) => o.name === "b").length, 1);
  t.clock.advance(1000);
  const done = await t.kernel.wait(p.pid, { until: "terminal" });
  assert.equal(done.result, "done");
});

Deno.test("restore voids a request raised after the checkpoint", async () => {
  await using t = await bootKernel();
  const p = await t.kernel.spawn({
    image: scripted([
      call("sleep", { ms: 10 }),
      call("write_text_file", { path: "x", text: "x" }),
      call("exit", { result: null }),
    ], {
      capabilities: [{ resource: "fs:x", rights: ["write"], effect: "ask" }],
    }),
    goal: "g",
  });
  await t.kernel.wait(p.pid);
  const ck = await t.kernel.createCheckpoint(p.pid, { reason: "while sleeping" });
  t.clock.advance(10);
  await t.kernel.wait(p.pid);
  const [req] = t.kernel.humanRequests({ state: "pending" });
  assert.ok(req);
  await t.kernel.restoreCheckpoint(ck.id);
  assert.equal(t.kernel.humanRequest(req.id).state, "void");
  // Its timer passed already: it runs on and asks again, with a new request.
  await t.kernel.wait(p.pid);
  const [again] = t.kernel.humanRequests({ state: "pending" });
  assert.ok(again !== undefined && again.id !== req.id);
  await assert.rejects(t.kernel.restoreCheckpoint(ck.id + "x"), { code: "ENOENT" });
  await assert.rejects(t.kernel.restoreCheckpoint("ck_999"), { code: "ENOENT" });
});

Deno.test("diff names what changed between two checkpoints", async () => {
  await using t = await bootKernel();
  const p = await t.kernel.spawn({
    image: scripted([
      call("create_object", { name: "a", type: "note", payload: { text: "1" } }),
      call("sleep", { ms: 1 }),
      call("write_object", { ref: "a", payload: { text: "2" } }),
      call("create_object", { name: "c", type: "note", payload: { text: "c" } }),
      call("sleep", { ms: 1 }),
    ]),
    goal: "g",
  });
  await t.kernel.wait(p.pid);
  const one = await t.kernel.createCheckpoint(p.pid);
  t.clock.advance(1);
  await t.kernel.wait(p.pid);
  await t.kernel.idle();
  const two = await t.kernel.createCheckpoint(p.pid);
  const diff = await t.kernel.diffCheckpoints(one.id, two.id);
  const [d] = diff.processes;
  assert.deepEqual(d!.objects, {
    added: ["c"],
    removed: [],
    changed: [{ name: "a", from: 1, to: 2 }],
  });
  assert.ok(d!.fields.some((f) => f.field === "usage"));
  assert.ok(d!.journal.to > d!.journal.from);
});

Deno.test("fork from a checkpoint makes a new process with copied objects and attenuated grants", async () => {
  await using t = await bootKernel();
  const p = await t.kernel.spawn({ image: workImage(), goal: "work" });
  await t.kernel.wait(p.pid);
  const [info] = await t.kernel.listCheckpoints(p.pid);
  const before = t.kernel.list().length;
  await assert.rejects(
    t.kernel.forkCheckpoint(info!.id, { capabilities: [{ resource: "fs:**", rights: ["write"] }] }),
    { code: "EPERM" },
  );
  assert.equal(t.kernel.list().length, before, "a refused fork creates nothing");
  const { pids } = await t.kernel.forkCheckpoint(info!.id, {
    capabilities: [{ resource: "fs:src/**", rights: ["read"] }],
  });
  const child = pids[p.pid]!;
  assert.notEqual(child, p.pid);
  assert.deepEqual(t.kernel.capabilities(child).map((g) => [g.resource, g.rights]), [["fs:src/**", [
    "read",
  ]]]);
  assert.deepEqual(t.kernel.listObjects(`proc/${child}`).map((o) => o.payload), [{ text: "v1" }]);
  // Without the checkpoint grant it cannot take the call the fork resumes at: but
  // that call answers from its journal (restored), so the fork runs on.
  const waiting = await t.kernel.wait(child);
  assert.equal(waiting.state, "waiting");
  const checkpointResults = (await toolResults(t.kernel, child)).filter((r) =>
    r.name === "checkpoint"
  );
  // Its journal is the source's up to the checkpoint: the call answers from the fork.
  assert.deepEqual(checkpointResults.map((r) => (r.result as { value: unknown }).value), [
    { checkpoint: info!.id, restored: true, forked: true },
  ]);
});

async function sqliteKernel(dir: string, clock: FakeClock): Promise<Kernel> {
  await Deno.mkdir(dir, { recursive: true });
  return await Kernel.create({
    store: await SqliteStore.open(join(dir, "kernel.db")),
    filesystem: new MemoryFilesystem(),
    clock,
  });
}

Deno.test("a bundle moves a process to another kernel; tampered, truncated or foreign-version bundles change nothing", async () => {
  const root = await Deno.makeTempDir({ prefix: "libos-bundle-" });
  try {
    const clock = new FakeClock(Date.UTC(2026, 0, 1));
    await using a = await sqliteKernel(join(root, "a"), clock);
    await using b = await sqliteKernel(join(root, "b"), clock);
    const p = await a.spawn({ image: workImage(), goal: "travel" });
    await a.wait(p.pid);
    const [info] = await a.listCheckpoints(p.pid);
    const bytes = await a.exportCheckpoint(info!.id, { actor: "operator:a" });

    const tampered = bytes.slice();
    const i = new TextDecoder().decode(tampered).indexOf('"v1"');
    tampered[i + 2] = "9".charCodeAt(0);
    const foreign = new TextEncoder().encode(
      new TextDecoder().decode(bytes).replace('"version":1', '"version":99'),
    );
    const headBefore = b.auditHead;
    for (
      const bad of [
        tampered,
        bytes.slice(0, bytes.length - 10),
        foreign,
        new TextEncoder().encode("{}"),
      ]
    ) {
      await assert.rejects(b.importBundle(bad), { code: "EINVAL" });
    }
    assert.deepEqual(b.list(), []);
    assert.deepEqual(b.auditHead, headBefore, "a refused import writes nothing");

    const { pids } = await b.importBundle(bytes, { actor: "operator:b" });
    const moved = pids[p.pid]!;
    assert.equal((await b.wait(moved)).state, "waiting");
    assert.deepEqual(b.listObjects(`proc/${moved}`).map((o) => o.name).sort(), ["a", "b"]);
    clock.advance(1000);
    const done = await b.wait(moved, { until: "terminal" });
    assert.equal(done.result, "done");
    assert.equal((await a.audit({ action: "checkpoint.export" })).length, 1);
    assert.equal((await b.audit({ action: "checkpoint.import" })).length, 1);
    assert.equal((await b.verifyAudit()).ok, true);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("an imported bundle keeps its objects' links, pointed at the objects' new ids", async () => {
  const root = await Deno.makeTempDir({ prefix: "libos-bundle-" });
  try {
    const clock = new FakeClock(Date.UTC(2026, 0, 1));
    await using a = await sqliteKernel(join(root, "a"), clock);
    await using b = await sqliteKernel(join(root, "b"), clock);
    const p = await a.spawn({
      image: scripted([
        call("create_object", { name: "data", type: "note", payload: { text: "raw" } }),
        call("create_object", { name: "summary", type: "note", payload: { text: "short" } }),
        call("sleep", { ms: 1000 }),
        call("exit", { result: "done" }),
      ]),
      goal: "link",
    });
    await a.wait(p.pid);
    await a.invoke(p.pid, (sys) => sys.link("summary", "derived_from", "data"));
    const ck = await a.createCheckpoint(p.pid, { reason: "linked" });
    const { pids } = await b.importBundle(await a.exportCheckpoint(ck.id), { actor: "operator:b" });
    const moved = pids[p.pid]!;
    const byName = new Map(b.listObjects(`proc/${moved}`).map((o) => [o.name, o]));
    const original = new Map(a.listObjects(`proc/${p.pid}`).map((o) => [o.name, o]));
    assert.notEqual(byName.get("data")!.oid, original.get("data")!.oid, "new ids");
    assert.deepEqual(byName.get("summary")!.links, [
      { rel: "derived_from", oid: byName.get("data")!.oid },
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
