/**
 * Waiting and events: the long poll of `GET /v1/processes/:pid/wait`, and the
 * server-sent event stream with ids, `Last-Event-ID` resume, pid and type
 * filters, and an end when the control plane closes.
 */
import assert from "node:assert/strict";
import { ControlPlane, type ControlPlaneOptions } from "../api/mod.ts";
import { ADMIN, bootPlane, FrameReader, request, type TestPlane } from "./api_helpers.ts";
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

/** A second control plane over a test kernel, with small stream limits. */
async function streamPlane(
  t: TestPlane,
  limits: Partial<ControlPlaneOptions>,
): Promise<{
  plane: ControlPlane;
  mint(role: "viewer" | "operator" | "admin", name: string): Promise<string>;
  open(token: string): Promise<Response>;
  opened: FrameReader[];
  closeAll(): Promise<void>;
}> {
  const plane = await ControlPlane.create(t.kernel, { adminToken: ADMIN, ...limits });
  const opened: FrameReader[] = [];
  return {
    plane,
    async mint(role, name) {
      const r = await request(plane, "/v1/tokens", { method: "POST", body: { role, name } });
      assert.equal(r.status, 201, r.text);
      return r.json.token as string;
    },
    async open(token) {
      const res = await plane.request("/v1/events", {
        headers: { authorization: `Bearer ${token}` },
      });
      if (res.status === 200) opened.push(new FrameReader(res));
      return res;
    },
    opened,
    async closeAll() {
      for (const s of opened.splice(0)) await s.cancel();
      // A cancel reaches the server's stream a few ticks later.
      for (let i = 0; i < 100 && plane.events.listeners > 0; i++) {
        await new Promise((r) => setTimeout(r, 0));
      }
      assert.equal(plane.events.listeners, 0, "every stream the test opened is closed");
      plane.close();
    },
  };
}

async function refusal(res: Response): Promise<[number, string, string]> {
  const body = await res.json();
  return [res.status, body.error.code, body.error.message];
}

Deno.test("one token holds at most maxEventStreamsPerToken streams: the next is 429 naming the limit, other tokens still open theirs", async () => {
  await using t = await bootPlane();
  const s = await streamPlane(t, {}); // the defaults: 16 per token, 256 in all
  try {
    const viewer = await s.mint("viewer", "watcher");
    const other = await s.mint("viewer", "other");
    for (let i = 0; i < 16; i++) assert.equal((await s.open(viewer)).status, 200);
    const [status, code, message] = await refusal(await s.open(viewer));
    assert.deepEqual([status, code], [429, "ELIMIT"]);
    assert.match(message, /token 'watcher' has 16 open.*maxEventStreamsPerToken 16/);
    assert.equal((await s.open(other)).status, 200, "another viewer still opens one");
    assert.equal((await s.open(ADMIN)).status, 200, "the admin still opens one");
    assert.equal(s.plane.events.listenersOf("admin"), 1);
    // A closed stream gives its place back to its token.
    await s.opened[0]!.cancel();
    s.opened.shift();
    for (let i = 0; i < 100 && s.plane.events.listeners === 18; i++) {
      await new Promise((r) => setTimeout(r, 0));
    }
    const watcher = s.plane.tokens.list().find((x) => x.name === "watcher")!;
    assert.equal(s.plane.events.listenersOf(watcher.id), 15);
    assert.equal((await s.open(viewer)).status, 200);
  } finally {
    await s.closeAll();
  }
});

Deno.test("with the capacity outside the admin reserve taken by operators and viewers, an admin still opens a stream", async () => {
  await using t = await bootPlane();
  // 8 streams in all, the last 2 for admin tokens, 3 per token.
  const s = await streamPlane(t, {
    maxEventStreams: 8,
    maxEventStreamsPerToken: 3,
    adminEventStreams: 2,
  });
  try {
    const tokens = [
      await s.mint("viewer", "v1"),
      await s.mint("operator", "o1"),
      await s.mint("viewer", "v2"),
    ];
    const answers = [];
    for (const token of tokens) {
      for (let i = 0; i < 3; i++) answers.push((await s.open(token)).status);
    }
    // v1 and o1 take 3 each; v2 gets none: the 6 streams outside the reserve are open.
    assert.deepEqual(answers, [200, 200, 200, 200, 200, 200, 503, 503, 503]);
    const [status, code, message] = await refusal(await s.open(tokens[2]!));
    assert.deepEqual([status, code], [503, "ELIMIT"]);
    assert.match(message, /the last 2 of the server's 8 are kept for admin tokens/);
    const adminToken = await s.mint("admin", "second-admin");
    assert.equal((await s.open(ADMIN)).status, 200, "the admin opens a stream from the reserve");
    assert.equal((await s.open(adminToken)).status, 200, "so does a minted admin token");
    const [full, , fullMessage] = await refusal(await s.open(ADMIN));
    assert.equal(full, 503, "past the server's cap even an admin is refused");
    assert.match(fullMessage, /8 are open, the server's limit \(maxEventStreams 8\)/);
  } finally {
    await s.closeAll();
  }
});

Deno.test("stream limits that leave no room are refused when the control plane is created", async () => {
  await using t = await bootPlane();
  await assert.rejects(
    ControlPlane.create(t.kernel, { adminToken: ADMIN, maxEventStreams: 4, adminEventStreams: 4 }),
    RangeError,
  );
  await assert.rejects(
    ControlPlane.create(t.kernel, { adminToken: ADMIN, maxEventStreamsPerToken: 0 }),
    RangeError,
  );
});
