/**
 * Waiting and events: the long poll of `GET /v1/processes/:pid/wait`, and the
 * server-sent event stream with ids, `Last-Event-ID` resume, pid and type
 * filters, and an end when the control plane closes.
 */
import assert from "node:assert/strict";
import { ADMIN, bootPlane, FrameReader, type TestPlane } from "./api_helpers.ts";
import { call, scripted } from "./helpers.ts";

async function openStream(
  t: TestPlane,
  query = "",
  headers: Record<string, string> = {},
): Promise<FrameReader> {
  const res = await t.plane.request(`/v1/events${query}`, {
    headers: { authorization: `Bearer ${ADMIN}`, ...headers },
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /^text\/event-stream/);
  return new FrameReader(res);
}

const quick = () => scripted([call("exit", { result: "ok" })]);

Deno.test("the event stream carries process changes, new human requests and audit appends, each with an increasing id", async () => {
  await using t = await bootPlane();
  const s = await openStream(t);
  const ready = await s.next();
  assert.equal(ready?.event, "ready");
  assert.equal(ready?.id, null, "the ready event has no id, so it never moves Last-Event-ID");
  const spawn = await t.call("/v1/processes", {
    body: {
      image: scripted([call("ask_human", { question: "go?" }), call("exit", {})], {
        capabilities: [{ resource: "human:operator", rights: ["ask"] }],
      }),
      goal: "g",
    },
  });
  const pid = spawn.json.pid;
  const frames = await s.until((f) => f.event === "human");
  await s.cancel();
  const types = new Set(frames.map((f) => f.event));
  assert.ok(types.has("process") && types.has("audit") && types.has("human"), [...types].join());
  const human = frames.at(-1)!.data as { pid: string; state: string; kind: string };
  assert.deepEqual([human.pid, human.state, human.kind], [pid, "pending", "question"]);
  const process = frames.filter((f) => f.event === "process").map((f) => f.data) as {
    pid: string;
    state: string;
  }[];
  assert.ok(process.some((p) => p.pid === pid && p.state === "runnable"));
  const ids = frames.filter((f) => f.id !== null).map((f) => f.id!);
  const [boot] = ids[0]!.split("-");
  const ns = ids.map((id) => {
    const [b, n] = id.split("-");
    assert.equal(b, boot);
    return Number(n);
  });
  assert.deepEqual(ns, ns.map((_, i) => ns[0]! + i), "ids are consecutive");
});

Deno.test("Last-Event-ID resumes with exactly the events after it; an id from another boot gets a reset", async () => {
  await using t = await bootPlane();
  const live = await openStream(t);
  await live.next(); // ready
  const p = await t.call("/v1/processes", { body: { image: quick(), goal: "g" } });
  const seen = await live.until((f) =>
    f.event === "process" && (f.data as { state: string }).state === "exited"
  );
  await live.cancel();
  assert.ok(seen.length >= 4);
  const cut = seen[1]!.id!;
  const expected = seen.slice(2).map((f) => f.id);

  const resumed = await openStream(t, "", { "last-event-id": cut });
  await resumed.next(); // ready
  const replay = [];
  for (let i = 0; i < expected.length; i++) replay.push((await resumed.next())!.id);
  await resumed.cancel();
  assert.deepEqual(replay, expected);

  const other = await openStream(t, "", { "last-event-id": "0badbeef-3" });
  await other.next(); // ready
  assert.equal((await other.next())?.event, "reset");
  await other.cancel();
  assert.equal(p.status, 201);
});

Deno.test("the stream filters by pid and by type; an unknown type is 400", async () => {
  await using t = await bootPlane();
  const first = await t.call("/v1/processes", { body: { image: quick(), goal: "one" } });
  await t.call(`/v1/processes/${first.json.pid}/wait?until=terminal`);
  const s = await openStream(t, "?pid=p_2&types=process");
  await s.next(); // ready
  await t.call("/v1/processes", { body: { image: quick(), goal: "two" } });
  const frames = await s.until((f) => (f.data as { state: string }).state === "exited");
  await s.cancel();
  assert.ok(
    frames.every((f) => f.event === "process" && (f.data as { pid: string }).pid === "p_2"),
  );
  const bad = await t.call("/v1/events?types=process,gossip");
  assert.equal(bad.status, 400);
  assert.match(bad.json.error.message, /gossip/);
});

Deno.test("closing the control plane ends open streams with a shutdown event and answers long polls at once", async () => {
  await using t = await bootPlane();
  const s = await openStream(t);
  await s.next(); // ready
  const p = await t.call("/v1/processes", {
    body: { image: scripted([call("sleep", { ms: 60_000 }), call("exit", {})]), goal: "g" },
  });
  const listeners = t.kernel.events.size;
  const polling = t.call(`/v1/processes/${p.json.pid}/wait?until=terminal&timeoutMs=300000`);
  // The poll is in flight once the kernel has its waiter.
  for (let i = 0; i < 100 && t.kernel.events.size === listeners; i++) {
    await new Promise((r) => setTimeout(r, 0));
  }
  assert.equal(t.kernel.events.size, listeners + 1, "the poll waits in the kernel");
  t.plane.close();
  const rest = await s.until((f) => f.event === "shutdown");
  assert.equal(rest.at(-1)?.event, "shutdown");
  assert.equal(await s.next(), null, "the stream ends");
  const answer = await polling;
  assert.equal(answer.json.timedOut, true);
  assert.equal(answer.json.process.state, "waiting");
  const late = await t.call(`/v1/processes/${p.json.pid}/wait?until=terminal&timeoutMs=300000`);
  assert.equal(late.json.timedOut, true, "a poll after close answers at once");
});

Deno.test("wait long-polls until the process waits or ends; with until=terminal it times out while the process waits", async () => {
  await using t = await bootPlane();
  const p = await t.call("/v1/processes", {
    body: {
      image: scripted([call("sleep", { ms: 1_000 }), call("exit", { result: 7 })]),
      goal: "g",
    },
  });
  const settled = await t.call(`/v1/processes/${p.json.pid}/wait`);
  assert.equal(settled.json.timedOut, false);
  assert.equal(settled.json.process.state, "waiting");
  assert.equal(settled.json.process.wait.kind, "timer");
  const short = await t.call(`/v1/processes/${p.json.pid}/wait?until=terminal&timeoutMs=10`);
  assert.equal(short.json.timedOut, true);
  assert.equal(short.json.process.state, "waiting");
  const long = t.call(`/v1/processes/${p.json.pid}/wait?until=terminal&timeoutMs=10000`);
  t.clock.advance(1_000);
  const done = await long;
  assert.equal(done.json.timedOut, false);
  assert.deepEqual([done.json.process.state, done.json.process.result], ["exited", 7]);
  assert.equal((await t.call("/v1/processes/p_404/wait")).status, 404);
  assert.equal((await t.call(`/v1/processes/${p.json.pid}/wait?timeoutMs=-1`)).status, 400);
});

Deno.test("a client that stops reading is cut off with an overflow event instead of growing the server's memory", async () => {
  await using t = await bootPlane();
  const { eventStream } = await import("../api/sse.ts");
  const res = eventStream(t.plane.events, { maxQueued: 5 });
  // Nobody reads: spawn processes until the stream gives up on the client.
  for (let i = 0; i < 5; i++) {
    await t.call("/v1/processes", { body: { image: quick(), goal: `g${i}` } });
  }
  await t.kernel.idle();
  const s = new FrameReader(res);
  const frames = await s.until((f) => f.event === "overflow", 100);
  assert.equal(frames.at(-1)?.event, "overflow");
  assert.equal(await s.next(), null);
  assert.equal(t.plane.events.listeners, 0, "the stream let go of the hub");
});
