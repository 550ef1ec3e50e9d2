/**
 * Authority is spent and derived in the engine, once: one-time uses are one
 * pool for a process tree, a standing approval derives from the grant that
 * asked for it, and a child's copy of its parent's restriction cannot be
 * revoked on its own.
 */
import assert from "node:assert/strict";
import { bootKernel, call, fileText, outcome, scripted, toolResults } from "./helpers.ts";

Deno.test("a one-time grant is one pool for the tree: three children asking for its use get one write between them", async () => {
  await using t = await bootKernel();
  const once = { resource: "fs:pub/out.txt", rights: ["write"], uses: 1 };
  await t.kernel.registerImage(
    scripted([call("write_text_file", { path: "pub/out.txt", text: "child" })], { id: "writer" }),
  );
  const spawn = call("spawn_process", { goal: "write", image: "writer", capabilities: [once] });
  const p = await t.kernel.spawn({
    image: scripted([
      spawn,
      spawn,
      spawn,
      call("write_text_file", {
        path: "pub/out.txt",
        text: "parent",
      }),
      call("exit", { result: null }),
    ], {
      capabilities: [{ ...once, delegable: true }, { resource: "proc", rights: ["spawn"] }],
    }),
    goal: "g",
  });
  await t.kernel.wait(p.pid, { until: "terminal" });
  await t.kernel.idle();
  assert.deepEqual((await toolResults(t.kernel, p.pid)).map(outcome), [
    "ok",
    "EPERM",
    "EPERM",
    "EPERM",
    "ok",
  ]);
  const writes = [];
  for (const c of t.kernel.list({ parent: p.pid })) {
    await t.kernel.wait(c.pid, { until: "terminal" });
    writes.push(...(await toolResults(t.kernel, c.pid)).filter((r) => outcome(r) === "ok"));
  }
  assert.equal(writes.length, 1, "one effect across the whole tree");
  assert.equal(await fileText(t.fs, "pub/out.txt"), "child");
  assert.equal(t.kernel.capabilities(p.pid).find((g) => g.resource === once.resource)?.uses, 0);
});

Deno.test("a standing approval derives from the ask grant: revoking that grant takes it along", async () => {
  await using t = await bootKernel();
  const p = await t.kernel.spawn({
    image: scripted([
      call("write_text_file", { path: "a/1.txt", text: "1" }),
      call("write_text_file", { path: "a/1.txt", text: "1" }),
      call("sleep", { ms: 1000 }),
      call("write_text_file", { path: "a/1.txt", text: "1" }),
      call("exit", { result: null }),
    ], { capabilities: [{ resource: "fs:a/**", rights: ["write"], effect: "ask" }] }),
    goal: "g",
  });
  assert.equal((await t.kernel.wait(p.pid)).state, "waiting");
  const [r] = t.kernel.humanRequests({ state: "pending" });
  await t.kernel.answer(r!.id, { decision: "approve", scope: "always" });
  assert.equal((await t.kernel.wait(p.pid)).state, "waiting", "asleep after two writes");
  const ask = t.kernel.capabilities(p.pid).find((g) => g.effect === "ask")!;
  const standing = t.kernel.capabilities(p.pid).find((g) => g.issuedBy === `human:${r!.id}`)!;
  assert.equal(standing.parentId, ask.id);
  const revoked = await t.kernel.revoke(ask.id);
  assert.deepEqual(revoked.map((g) => g.id).sort(), [ask.id, standing.id].sort());
  t.clock.advance(1000);
  await t.kernel.wait(p.pid, { until: "terminal" });
  assert.deepEqual((await toolResults(t.kernel, p.pid)).map(outcome), [
    "ok",
    "ok",
    "ok",
    "EPERM",
    "ok",
  ]);
});

Deno.test("a child's copy of its parent's restriction cannot be revoked alone (the child would outgrow its parent)", async () => {
  await using t = await bootKernel();
  const parent = await t.kernel.spawn({
    image: scripted([call("sleep", { ms: 100_000 })], {
      capabilities: [
        { resource: "fs:**", rights: ["read"], delegable: true },
        { resource: "fs:secret/**", rights: ["read"], effect: "deny" },
      ],
    }),
    goal: "g",
  });
  const child = await t.kernel.fork(parent.pid, {
    goal: "c",
    capabilities: [{ resource: "fs:**", rights: ["read"] }],
  });
  const copy = t.kernel.capabilities(child.pid).find((g) => g.effect === "deny")!;
  await assert.rejects(
    t.kernel.revoke(copy.id),
    (e: Error & { code?: string }) => e.code === "EPERM" && /revoke g_\d+ instead/.test(e.message),
  );
  assert.equal(t.kernel.capabilities(child.pid).find((g) => g.id === copy.id)?.revoked, false);
  await t.kernel.signal(parent.pid, "kill");
});
