/**
 * Mailboxes between processes: `send_message` and `receive_message` under
 * capabilities, the receiver waiting without a slot, FIFO order, and every
 * message delivered exactly once — to one of two receivers, and across a
 * crash at the claim, right after it, and a SIGKILL of a real `libos start`.
 */
import assert from "node:assert/strict";
import { Kernel, MemoryStore, type ToolResult } from "../mod.ts";
import { CrashableStore } from "../runtime/testing/mod.ts";
import { bootKernel, call, outcome, scripted, toolResults } from "./helpers.ts";
import { bootPlane } from "./api_helpers.ts";
import { startKernel, withTemp } from "./cli_kit.ts";

const KILL_ADMIN = "mailbox-kill-admin-token-0123456789";

/** The tool results of a process whose tool is `name`. */
async function resultsOf(kernel: Kernel, pid: string, name: string): Promise<ToolResult[]> {
  return (await toolResults(kernel, pid)).filter((r) => r.name === name).map((r) => r.result);
}

/** The value of an ok tool result. */
function value(r: ToolResult | undefined): Record<string, unknown> {
  assert.ok(r?.ok, `expected an ok result, got ${JSON.stringify(r)}`);
  return r.value as Record<string, unknown>;
}

/** A receiver: `receives` receive calls (each with `args`), then exit. */
function receiver(
  receives: number,
  args: Record<string, unknown> = {},
  capabilities: { resource: string; rights: string[] }[] = [],
) {
  return scripted(
    [
      ...Array.from({ length: receives }, () => call("receive_message", args)),
      call("exit", { result: null }),
    ],
    { capabilities },
  );
}

/** A sender of `bodies` to `to`, under `capabilities`. */
function sender(
  to: string,
  bodies: unknown[],
  capabilities: { resource: string; rights: string[] }[],
  type = "json",
) {
  return scripted(
    [
      ...bodies.map((body) => call("send_message", { to, type, body })),
      call("exit", { result: null }),
    ],
    { capabilities },
  );
}

const SEND_TO_PROCS = [{ resource: "mbox:proc/*", rights: ["send"] }];

Deno.test("send_message and receive_message: a typed message goes from one process to another's mailbox under a send grant, audited", async () => {
  await using t = await bootKernel();
  const k = t.kernel;
  const rx = await k.spawn({ image: receiver(1), goal: "receive" });
  const tx = await k.spawn({
    image: sender(rx.pid, [{ text: "hello" }], SEND_TO_PROCS, "note"),
    goal: "send",
  });
  await k.wait(tx.pid, { until: "terminal" });
  const done = await k.wait(rx.pid, { until: "terminal" });
  assert.equal(done.state, "exited");
  const sent = value((await resultsOf(k, tx.pid, "send_message"))[0]);
  assert.equal(sent["channel"], `mbox:proc/${rx.pid}`);
  const got = value((await resultsOf(k, rx.pid, "receive_message"))[0]);
  assert.equal(got["timedOut"], false);
  assert.deepEqual(got["message"], {
    id: sent["id"],
    channel: `mbox:proc/${rx.pid}`,
    from: tx.pid,
    type: "note",
    body: { text: "hello" },
    sentAt: sent["sentAt"],
  });
  const sends = await k.audit({ pid: tx.pid, action: "mbox.send" });
  assert.deepEqual(sends.map((a) => [a.decision, a.resource]), [["allow", `mbox:proc/${rx.pid}`]]);
  const receives = await k.audit({ pid: rx.pid, action: "mbox.receive" });
  assert.deepEqual(receives.map((a) => [a.decision, a.detail["id"], a.detail["own"]]), [
    ["allow", sent["id"], true],
  ]);
});

Deno.test("send_message without a send grant is EPERM, audited as a deny, and stores no message", async () => {
  await using t = await bootKernel();
  const k = t.kernel;
  const rx = await k.spawn({ image: receiver(1, { timeoutMs: 0 }), goal: "receive" });
  await k.wait(rx.pid, { until: "terminal" });
  const tx = await k.spawn({
    image: sender("p_1", [{ n: 1 }], [{ resource: "mbox:jobs", rights: ["send"] }]),
    goal: "send",
  });
  await k.wait(tx.pid, { until: "terminal" });
  assert.deepEqual((await toolResults(k, tx.pid)).map(outcome), ["EPERM", "ok"]);
  const denied = await k.audit({ pid: tx.pid, action: "mbox.send" });
  assert.deepEqual(denied.map((a) => [a.decision, a.resource]), [["deny", "mbox:proc/p_1"]]);
  assert.deepEqual(await k.store.nextMessages("mbox:proc/p_1", 10), []);
  // Receiving from a channel that is not one's own needs a receive grant too.
  const other = await k.spawn({ image: receiver(1, { from: "jobs", timeoutMs: 0 }), goal: "x" });
  await k.wait(other.pid, { until: "terminal" });
  assert.deepEqual((await toolResults(k, other.pid)).map(outcome), ["EPERM", "ok"]);
});

Deno.test("a message body over 64 KiB is refused with ELIMIT, a bad channel or body with EINVAL, and nothing is stored", async () => {
  await using t = await bootKernel();
  const k = t.kernel;
  const tx = await k.spawn({
    image: scripted([
      call("send_message", { to: "jobs", body: { text: "x".repeat(64 * 1024) } }),
      call("send_message", { to: "bad name!", body: 1 }),
      call("send_message", { to: "jobs", type: "note", body: { nope: true } }),
      call("send_message", { to: "jobs", body: { text: "x".repeat(60 * 1024) } }),
      call("exit", { result: null }),
    ], { capabilities: [{ resource: "mbox:**", rights: ["send"] }] }),
    goal: "send",
  });
  await k.wait(tx.pid, { until: "terminal" });
  const results = await resultsOf(k, tx.pid, "send_message");
  assert.deepEqual(results.map((r) => r.ok ? "ok" : r.error.code), [
    "ELIMIT",
    "EINVAL",
    "EINVAL",
    "ok",
  ]);
  const big = results[0]!;
  assert.ok(!big.ok && /65547 bytes of JSON, more than the 65536 allowed/.test(big.error.message));
  assert.equal((await k.store.nextMessages("mbox:jobs", 10)).length, 1);
});

Deno.test("receive_message waits without a slot: with concurrency 1 another process runs meanwhile, and a send wakes it", async () => {
  await using t = await bootKernel({ concurrency: 1 });
  const k = t.kernel;
  const rx = await k.spawn({ image: receiver(1), goal: "receive" });
  const waiting = await k.wait(rx.pid);
  assert.equal(waiting.state, "waiting");
  assert.deepEqual(waiting.wait, { kind: "message", channel: `mbox:proc/${rx.pid}`, until: null });
  const other = await k.spawn({
    image: scripted([call("now"), call("exit", { result: null })]),
    goal: "other",
  });
  assert.equal((await k.wait(other.pid, { until: "terminal" })).state, "exited");
  assert.equal(k.get(rx.pid).state, "waiting");
  const tx = await k.spawn({ image: sender(rx.pid, ["wake"], SEND_TO_PROCS), goal: "send" });
  await k.wait(tx.pid, { until: "terminal" });
  assert.equal((await k.wait(rx.pid, { until: "terminal" })).state, "exited");
  const got = value((await resultsOf(k, rx.pid, "receive_message"))[0]);
  assert.equal((got["message"] as { body: unknown }).body, "wake");
});

Deno.test("receive_message times out on the kernel's clock: {timedOut: true} once timeoutMs passed, not before", async () => {
  await using t = await bootKernel();
  const k = t.kernel;
  const rx = await k.spawn({ image: receiver(1, { timeoutMs: 5_000 }), goal: "receive" });
  assert.equal((await k.wait(rx.pid)).state, "waiting");
  t.clock.advance(4_999);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(k.get(rx.pid).state, "waiting");
  t.clock.advance(1);
  assert.equal((await k.wait(rx.pid, { until: "terminal" })).state, "exited");
  assert.deepEqual(value((await resultsOf(k, rx.pid, "receive_message"))[0]), {
    timedOut: true,
    message: null,
  });
  const audits = await k.audit({ pid: rx.pid, action: "mbox.receive" });
  assert.deepEqual(audits.map((a) => a.detail["timedOut"]), [true]);
});

Deno.test("messages of a channel are delivered in the order they were sent", async () => {
  await using t = await bootKernel();
  const k = t.kernel;
  const tx = await k.spawn({
    image: sender("jobs", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], [{
      resource: "mbox:jobs",
      rights: ["send"],
    }]),
    goal: "send",
  });
  await k.wait(tx.pid, { until: "terminal" });
  const rx = await k.spawn({
    image: receiver(11, { from: "mbox:jobs", timeoutMs: 0 }, [{
      resource: "mbox:jobs",
      rights: ["receive"],
    }]),
    goal: "receive",
  });
  await k.wait(rx.pid, { until: "terminal" });
  const bodies = (await resultsOf(k, rx.pid, "receive_message"))
    .map((r) => (value(r)["message"] as { body: unknown }).body);
  assert.deepEqual(bodies, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
});

Deno.test("two receivers on one channel: every message is delivered exactly once, to one of them", async () => {
  await using t = await bootKernel();
  const k = t.kernel;
  const grant = [{ resource: "mbox:jobs", rights: ["receive"] }];
  const a = await k.spawn({ image: receiver(3, { from: "jobs" }, grant), goal: "a" });
  const b = await k.spawn({ image: receiver(3, { from: "jobs" }, grant), goal: "b" });
  assert.equal((await k.wait(a.pid)).state, "waiting");
  assert.equal((await k.wait(b.pid)).state, "waiting");
  const bodies = [1, 2, 3, 4, 5, 6];
  const tx = await k.spawn({
    image: sender("jobs", bodies, [{ resource: "mbox:jobs", rights: ["send"] }]),
    goal: "send",
  });
  await k.wait(tx.pid, { until: "terminal" });
  await k.wait(a.pid, { until: "terminal" });
  await k.wait(b.pid, { until: "terminal" });
  const got = async (pid: string) =>
    (await resultsOf(k, pid, "receive_message")).map((r) =>
      (value(r)["message"] as { body: number }).body
    );
  const [fromA, fromB] = [await got(a.pid), await got(b.pid)];
  assert.equal(fromA.length, 3);
  assert.equal(fromB.length, 3);
  assert.deepEqual([...fromA, ...fromB].sort(), bodies);
  // Each receiver takes them in order.
  assert.deepEqual(fromA, [...fromA].sort());
  assert.deepEqual(fromB, [...fromB].sort());
  assert.deepEqual(await k.store.nextMessages("mbox:jobs", 10), []);
});

for (const at of ["before", "after"] as const) {
  Deno.test(`a crash ${at} the claim commits: after the restart the message is delivered exactly once and not lost`, async () => {
    const store = new CrashableStore(new MemoryStore());
    store.crashAt((batch) => batch.some((m) => m.kind === "message.claim") ? at : null);
    const k1 = await Kernel.create({ store });
    const rx = await k1.spawn({ image: receiver(1), goal: "receive" });
    await k1.wait(rx.pid);
    // The kernel dies at the claim: nothing after it lands (the sender's exit neither).
    await k1.spawn({ image: sender(rx.pid, ["once"], SEND_TO_PROCS), goal: "send" });
    const deadline = Date.now() + 10_000;
    while (!store.crashed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
    assert.ok(store.crashed, "the crash point was reached");
    const inner = store.inner as MemoryStore;
    assert.equal(
      (await inner.nextMessages(`mbox:proc/${rx.pid}`, 10)).length,
      at === "before" ? 1 : 0,
    );
    await using k2 = await Kernel.create({ store: inner });
    assert.equal((await k2.wait(rx.pid, { until: "terminal" })).state, "exited");
    const got = await resultsOf(k2, rx.pid, "receive_message");
    assert.equal(got.length, 1);
    assert.equal((value(got[0])["message"] as { body: unknown }).body, "once");
    assert.deepEqual(await inner.nextMessages(`mbox:proc/${rx.pid}`, 10), []);
    const receives = (await k2.audit({ pid: rx.pid, action: "mbox.receive" }))
      .filter((a) => a.decision === "allow");
    assert.equal(receives.length, 1);
  });
}

/** The bodies a process received, in order, from its journal as the API answers it. */
async function receivedOverApi(
  get: (path: string) => Promise<{ status: number; json: unknown }>,
  pid: string,
): Promise<unknown[]> {
  const r = await get(`/v1/processes/${pid}/journal?limit=1000`);
  assert.equal(r.status, 200);
  const entries = (r.json as { entries: { kind: string; data: Record<string, unknown> }[] })
    .entries;
  return entries
    .filter((e) => e.kind === "tool.end" && e.data["name"] === "receive_message")
    .map((e) => {
      const result = e.data["result"] as ToolResult;
      assert.ok(result.ok, JSON.stringify(result));
      return (result.value as { message: { body: unknown } }).message.body;
    });
}

Deno.test("over the HTTP API: two processes spawned with mbox grants exchange messages; a send without a grant is audited as a deny", async () => {
  await using t = await bootPlane();
  const spawn = async (image: unknown) => {
    const r = await t.call("/v1/processes", { body: { image, goal: "mailbox" } });
    assert.equal(r.status, 201, r.text);
    return r.json.pid as string;
  };
  const grant = (rights: string[]) => [{ resource: "mbox:results", rights }];
  const rx = await spawn(receiver(2, { from: "mbox:results" }, grant(["receive"])));
  const tx = await spawn(sender("mbox:results", ["a", "b"], grant(["send"])));
  const bad = await spawn(sender("mbox:results", ["c"], []));
  for (const pid of [tx, bad, rx]) {
    const r = await t.call(`/v1/processes/${pid}/wait?until=terminal&timeoutMs=10000`);
    assert.equal(r.json.process.state, "exited", r.text);
  }
  assert.deepEqual(await receivedOverApi((p) => t.call(p), rx), ["a", "b"]);
  const denied = await t.call(`/v1/audit?pid=${bad}&action=mbox.send`);
  assert.deepEqual(
    denied.json.records.map((a: { decision: string; resource: string }) => [
      a.decision,
      a.resource,
    ]),
    [["deny", "mbox:results"]],
  );
});

Deno.test("SIGKILL of a real libos start (SQLite) while messages flow: after restarts every message is delivered exactly once", async () => {
  await withTemp("libos-mbox-kill-", async (dir) => {
    const headers = { authorization: `Bearer ${KILL_ADMIN}`, "content-type": "application/json" };
    const api = (url: string) => async (path: string) => {
      const r = await fetch(`${url}${path}`, { headers });
      return { status: r.status, json: await r.json() };
    };
    const bodies = [1, 2, 3, 4, 5, 6, 7, 8];
    const grant = (rights: string[]) => [{ resource: "mbox:work", rights }];
    let kernel = await startKernel(dir, { env: { LIBOS_ADMIN_TOKEN: KILL_ADMIN } });
    const pids: string[] = [];
    try {
      for (
        const image of [
          receiver(bodies.length, { from: "work" }, grant(["receive"])),
          // A pause between sends keeps the flow going across the kills.
          scripted([
            ...bodies.flatMap((body) => [
              call("send_message", { to: "work", body }),
              call("sleep", { ms: 40 }),
            ]),
            call("exit", { result: null }),
          ], { capabilities: grant(["send"]) }),
        ]
      ) {
        const r = await fetch(`${kernel.url}/v1/processes`, {
          method: "POST",
          headers,
          body: JSON.stringify({ image, goal: "flow" }),
        });
        assert.equal(r.status, 201);
        pids.push((await r.json()).pid);
      }
      // Killed while the messages flow, at a few points; then once more when idle.
      for (const ms of [0, 60, 150]) {
        await new Promise((r) => setTimeout(r, ms));
        assert.equal((await kernel.stop("SIGKILL")).status.signal, "SIGKILL");
        await kernel[Symbol.asyncDispose]();
        kernel = await startKernel(dir, { env: { LIBOS_ADMIN_TOKEN: KILL_ADMIN } });
      }
      for (const pid of pids) {
        const r = await api(kernel.url)(`/v1/processes/${pid}/wait?until=terminal&timeoutMs=30000`);
        assert.equal(r.json.process.state, "exited", JSON.stringify(r.json));
      }
      assert.deepEqual(await receivedOverApi(api(kernel.url), pids[0]!), bodies);
    } finally {
      await kernel[Symbol.asyncDispose]();
    }
  });
});
