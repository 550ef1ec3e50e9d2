/**
 * `Idempotency-Key` over the HTTP API: a retry is answered from the stored
 * command and does nothing again; another body or route with the same key
 * is refused; a retry while the first runs is refused; keys belong to their
 * token, expire, survive a restart, and a spawn whose answer was lost in a
 * crash is answered with the same pid.
 */
import assert from "node:assert/strict";
import { ApiClient, ControlPlane } from "../api/mod.ts";
import { Kernel, MemoryStore, type Mutation, SqliteStore } from "../mod.ts";
import { CrashableStore } from "../runtime/testing/mod.ts";
import { ADMIN, bootPlane, request } from "./api_helpers.ts";
import { call, scripted } from "./helpers.ts";

/** An image whose process waits on a question, so it stays live. */
const asker = (id = "idem-asker") =>
  scripted([call("ask_human", { question: "go on?" }), call("exit", {})], {
    id,
    capabilities: [{ resource: "human:operator", rights: ["ask"] }],
  });

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2_000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 1));
  }
  throw new Error(`timed out waiting for ${what}`);
}

Deno.test("a spawn retried with its Idempotency-Key gets the first answer again, replayed, and one process exists", async () => {
  await using t = await bootPlane();
  const body = { image: asker(), goal: "once" };
  const headers = { "idempotency-key": "spawn-1" };
  const first = await t.call("/v1/processes", { body, headers });
  assert.equal(first.status, 201, first.text);
  assert.equal(first.headers.get("idempotent-replayed"), null);
  const again = await t.call("/v1/processes", { body, headers });
  assert.equal(again.status, 201);
  assert.equal(again.headers.get("idempotent-replayed"), "true");
  assert.equal(again.text, first.text, "the stored body, byte for byte");
  const list = await t.call("/v1/processes");
  assert.deepEqual(list.json.processes.map((p: { pid: string }) => p.pid), [first.json.pid]);
  // Without a key, the same body spawns again.
  const plain = await t.call("/v1/processes", { body });
  assert.equal(plain.status, 201);
  assert.notEqual(plain.json.pid, first.json.pid);
});

Deno.test("the same key with another body or another route is 422 EIDEMPOTENCY and changes nothing", async () => {
  await using t = await bootPlane();
  const headers = { "idempotency-key": "k-1" };
  const first = await t.call("/v1/processes", { body: { image: asker(), goal: "a" }, headers });
  assert.equal(first.status, 201);
  const otherBody = await t.call("/v1/processes", {
    body: { image: asker(), goal: "b" },
    headers,
  });
  assert.equal(otherBody.status, 422, otherBody.text);
  assert.equal(otherBody.json.error.code, "EIDEMPOTENCY");
  assert.match(otherBody.json.error.message, /'k-1'.*another body/);
  const otherRoute = await t.call(`/v1/processes/${first.json.pid}/signal`, {
    body: { signal: "pause" },
    headers,
  });
  assert.equal(otherRoute.status, 422, otherRoute.text);
  assert.match(otherRoute.json.error.message, /another request \(POST \/v1\/processes\)/);
  const list = await t.call("/v1/processes");
  assert.equal(list.json.processes.length, 1);
  assert.notEqual(list.json.processes[0].state, "suspended");
});

Deno.test("a malformed Idempotency-Key is 400 EINVAL naming the header, and nothing runs", async () => {
  await using t = await bootPlane();
  for (const key of ["x".repeat(256), "caf\u00e9", "tab\there"]) {
    const r = await t.call("/v1/processes", {
      body: { image: asker(), goal: "a" },
      headers: { "idempotency-key": key },
    });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.code, "EINVAL");
    assert.match(r.json.error.message, /Idempotency-Key/);
  }
  assert.equal((await t.call("/v1/processes")).json.processes.length, 0);
});

Deno.test("a key belongs to its token: another token's same key runs its own command", async () => {
  await using t = await bootPlane();
  const operator = await t.tokenFor("operator", "ops");
  const body = { image: asker(), goal: "a" };
  const headers = { "idempotency-key": "shared" };
  const a = await t.call("/v1/processes", { body, headers });
  const b = await t.call("/v1/processes", { body, headers, token: operator });
  assert.equal(a.status, 201);
  assert.equal(b.status, 201);
  assert.notEqual(a.json.pid, b.json.pid);
  assert.equal(b.headers.get("idempotent-replayed"), null);
});

Deno.test("a retry while the first request still runs is 409 EBUSY; the first then answers once", async () => {
  const gate = new GatedStore();
  await using t = await bootPlane({ store: gate });
  const body = { image: asker(), goal: "slow" };
  const headers = { "idempotency-key": "slow-1" };
  gate.hold = true;
  const first = t.call("/v1/processes", { body, headers });
  await until(() => gate.held.length > 0, "the spawn's batch");
  const busy = await t.call("/v1/processes", { body, headers });
  assert.equal(busy.status, 409, busy.text);
  assert.equal(busy.json.error.code, "EBUSY");
  gate.release();
  const done = await first;
  assert.equal(done.status, 201, done.text);
  const again = await t.call("/v1/processes", { body, headers });
  assert.equal(again.json.pid, done.json.pid);
  assert.equal(again.headers.get("idempotent-replayed"), "true");
  assert.equal((await t.call("/v1/processes")).json.processes.length, 1);
});

Deno.test("a key expires after the control plane's TTL: the same key then runs anew", async () => {
  await using t = await bootPlane({ idempotencyTtlMs: 60_000 });
  const body = { image: asker(), goal: "a" };
  const headers = { "idempotency-key": "ttl" };
  const first = await t.call("/v1/processes", { body, headers });
  t.clock.advance(59_000);
  const within = await t.call("/v1/processes", { body, headers });
  assert.equal(within.json.pid, first.json.pid);
  t.clock.advance(1_000);
  const after = await t.call("/v1/processes", { body, headers });
  assert.equal(after.status, 201);
  assert.notEqual(after.json.pid, first.json.pid);
  assert.equal(after.headers.get("idempotent-replayed"), null);
});

Deno.test("answers, signals and tokens with a key: done once; a minted token's secret is never replayed", async () => {
  await using t = await bootPlane();
  const s = await t.call("/v1/processes", { body: { image: asker(), goal: "a" } });
  await t.call(`/v1/processes/${s.json.pid}/wait?timeoutMs=5000`);
  const [req] = (await t.call("/v1/human?state=pending")).json.requests;
  const answer = {
    decision: "answer",
    answer: "yes",
    previewSha256: req.previewSha256,
  };
  const h = { "idempotency-key": "answer-1" };
  const a1 = await t.call(`/v1/human/${req.id}`, { body: answer, headers: h });
  assert.equal(a1.status, 200, a1.text);
  const a2 = await t.call(`/v1/human/${req.id}`, { body: answer, headers: h });
  assert.equal(a2.status, 200, "a replay, not 409 'already decided'");
  assert.equal(a2.headers.get("idempotent-replayed"), "true");
  assert.equal(a2.headers.get("etag"), a1.headers.get("etag"));
  const audits = await t.kernel.store.readAudit({ action: "human.answered" });
  assert.equal(audits.length, 1, "answered once");

  const mint = { role: "viewer", name: "v1" };
  const k = { "idempotency-key": "mint-1" };
  const m1 = await t.call("/v1/tokens", { body: mint, headers: k });
  assert.equal(m1.status, 201);
  const m2 = await t.call("/v1/tokens", { body: mint, headers: k });
  assert.equal(m2.status, 409, m2.text);
  assert.equal(m2.json.error.code, "EIDEMPOTENCY");
  assert.match(m1.json.info.id, /^t_\d+$/);
  assert.match(m2.json.error.message, new RegExp(`minted '${m1.json.info.id}'`));
  assert.ok(!m2.text.includes(m1.json.token), "the secret is not kept");
  const tokens = (await t.call("/v1/tokens")).json.tokens;
  assert.equal(tokens.filter((x: { name: string }) => x.name === "v1").length, 1);
  const stored = await t.kernel.store.readCommand("admin:mint-1");
  assert.ok(!JSON.stringify(stored).includes(m1.json.token), "nor stored");
});

for (
  const [when, replayed, point] of [
    [
      "after the process is made",
      true,
      (m: readonly Mutation[]) =>
        m.some((x) => x.kind === "command.put") && m.some((x) => x.kind === "process.put"),
    ],
    [
      "after only its inline image is registered",
      false,
      (m: readonly Mutation[]) =>
        m.some((x) => x.kind === "command.put") && m.some((x) => x.kind === "image.put"),
    ],
  ] as const
) {
  Deno.test(`a spawn whose answer is lost in a crash ${when} gives one process after the retry`, async () => {
    const store = new CrashableStore(new MemoryStore());
    store.crashAt((m) => point(m) ? "after" : null);
    const k1 = await Kernel.create({ store });
    const p1 = await ControlPlane.create(k1, { adminToken: ADMIN });
    const body = { image: asker(), goal: "lost" };
    const headers = { "idempotency-key": "lost-1" };
    let answered = false;
    void request(p1, "/v1/processes", { body, headers }).then(() => answered = true);
    await until(() => store.crashed, "the crash");
    assert.equal(answered, false, "the first answer never left");
    p1.close();

    await using k2 = await Kernel.create({ store: store.inner as MemoryStore });
    await using p2 = await ControlPlane.create(k2, { adminToken: ADMIN });
    assert.equal(k2.list().length, replayed ? 1 : 0);
    const retry = await request(p2, "/v1/processes", { body, headers });
    assert.equal(retry.status, 201, retry.text);
    // Answered from the record when the process was made; run again when it was not.
    assert.equal(retry.headers.get("idempotent-replayed"), replayed ? "true" : null);
    const live = k2.list();
    assert.equal(live.length, 1, "one process across the crash");
    assert.equal(retry.json.pid, live[0]!.pid);
    assert.equal(retry.json.process.goal, "lost");
    // From then on, answered from the stored record, the same way.
    const third = await request(p2, "/v1/processes", { body, headers });
    assert.equal(third.text, retry.text);
    assert.equal(third.headers.get("idempotent-replayed"), "true");
  });
}

Deno.test("keys survive a clean restart on the SQLite store", async () => {
  const dir = await Deno.makeTempDir({ prefix: "libos-idem-" });
  try {
    const path = `${dir}/kernel.db`;
    const body = { image: asker(), goal: "kept" };
    const headers = { "idempotency-key": "kept-1" };
    let first;
    {
      await using k = await Kernel.create({ store: await SqliteStore.open(path) });
      await using p = await ControlPlane.create(k, { adminToken: ADMIN });
      first = await request(p, "/v1/processes", { body, headers });
      assert.equal(first.status, 201);
    }
    await using k = await Kernel.create({ store: await SqliteStore.open(path) });
    await using p = await ControlPlane.create(k, { adminToken: ADMIN });
    const again = await request(p, "/v1/processes", { body, headers });
    assert.equal(again.status, 201);
    assert.equal(again.text, first.text);
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.equal(k.list().length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the OpenAPI document shows Idempotency-Key on every mutating route, with 409 and 422", async () => {
  await using t = await bootPlane();
  const doc = (await t.call("/openapi.json", { token: null })).json;
  let mutating = 0;
  for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
    for (const [method, op] of Object.entries(ops)) {
      if (!["post", "put", "patch", "delete"].includes(method)) continue;
      mutating++;
      const o = op as {
        parameters?: { in: string; name: string }[];
        responses: Record<string, { headers?: Record<string, unknown> }>;
      };
      const names = (o.parameters ?? []).filter((p) => p.in === "header").map((p) => p.name);
      assert.ok(names.includes("idempotency-key"), `${method} ${path} documents the header`);
      assert.ok("409" in o.responses && "422" in o.responses, `${method} ${path} 409/422`);
      for (const [status, answer] of Object.entries(o.responses)) {
        if (!status.startsWith("2")) continue;
        assert.ok(
          answer.headers?.["Idempotent-Replayed"] !== undefined,
          `${method} ${path} ${status} documents Idempotent-Replayed`,
        );
      }
    }
  }
  assert.ok(mutating >= 12, `found ${mutating} mutating routes`);
  const codes = doc.components.schemas.Error.properties.error.properties.code.description;
  for (const code of ["EIDEMPOTENCY", "EBUSY", "ESTALE", "EREVISION"]) {
    assert.match(codes, new RegExp(code), `the Error schema names ${code}`);
  }
});

/** A memory store whose batches wait while `hold` is set. */
class GatedStore extends MemoryStore {
  hold = false;
  held: (() => void)[] = [];

  override apply(batch: readonly Mutation[]): Promise<void> {
    if (!this.hold) return super.apply(batch);
    return new Promise<void>((resolve, reject) => {
      this.held.push(() => super.apply(batch).then(resolve, reject));
    });
  }

  release(): void {
    this.hold = false;
    for (const go of this.held.splice(0)) go();
  }
}

Deno.test("the client sends a fresh key per command and, when the answer is lost on the wire, retries with it: one process, the first pid", async () => {
  await using t = await bootPlane();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, t.plane.fetch);
  await using proxy = new AnswerDropper((server.addr as Deno.NetAddr).port);
  try {
    const client = new ApiClient({
      url: `http://127.0.0.1:${proxy.port}`,
      token: ADMIN,
      retryDelayMs: 1,
    });
    const spawned = await client.spawn({ image: asker(), goal: "over a bad wire" });
    assert.equal(proxy.dropped, 1, "the first answer was lost");
    const list = t.kernel.list();
    assert.deepEqual(
      list.map((p) => p.pid),
      [spawned.pid],
      "one process, and it is the one answered",
    );
    // A second command gets its own key: it spawns again.
    const other = await client.spawn({ image: asker(), goal: "over a bad wire" });
    assert.notEqual(other.pid, spawned.pid);
  } finally {
    await server.shutdown();
  }
});

/**
 * A TCP proxy that forwards every request but drops the answer of the first
 * connection (closing it), as a network that fails after the request landed.
 */
class AnswerDropper implements AsyncDisposable {
  readonly #listener: Deno.TcpListener;
  readonly #conns: Deno.Conn[] = [];
  readonly #done: Promise<void>;
  dropped = 0;

  constructor(upstream: number) {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#done = this.#serve(upstream);
  }

  get port(): number {
    return this.#listener.addr.port;
  }

  async #serve(upstream: number): Promise<void> {
    let n = 0;
    for await (const conn of this.#listener) {
      const first = n++ === 0;
      const up = await Deno.connect({ hostname: "127.0.0.1", port: upstream });
      this.#conns.push(conn, up);
      conn.readable.pipeTo(up.writable).catch(() => {});
      if (!first) {
        up.readable.pipeTo(conn.writable).catch(() => {});
        continue;
      }
      // Read the answer's first bytes, then drop the connection.
      const reader = up.readable.getReader();
      reader.read().then(() => {
        this.dropped++;
        reader.cancel().catch(() => {});
        try {
          conn.close();
        } catch { /* closed already */ }
      }).catch(() => {});
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#listener.close();
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed already */ }
    }
    await this.#done.catch(() => {});
  }
}
