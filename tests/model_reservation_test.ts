/**
 * Model spend reserved: before a real model call, the kernel holds its worst
 * case against the process's budget and every ancestor's subtree budget in
 * the batch committed before the call; the answer settles the hold to the real
 * usage; a call whose outcome is unknown (killed mid-call, lost in a crash) is
 * charged its hold. Driven through the HTTP API against a loopback
 * OpenAI-compatible server that holds its answers until the test lets them go.
 */
import assert from "node:assert/strict";
import { Kernel, MemoryStore, type ProcessRecord } from "../mod.ts";
import { ControlPlane } from "../api/mod.ts";
import { OpenAIProvider } from "../runtime/models/openai_provider.ts";
import { CrashableStore } from "../runtime/testing/mod.ts";
import { ADMIN, type Answer, bootPlane, request } from "./api_helpers.ts";
import { call, scripted } from "./helpers.ts";
import { type ModelServer, startModelServer } from "./model_server.ts";
import { chatCompletion, chatStream, chatUsage, unauthorized } from "./fixtures/openai_wire.ts";

const MAX_TOKENS = 1000;
const MODEL = { resource: "model:openai/local", rights: ["call"] };

/** A local model server needs no key: the provider is given an empty environment. */
function provider(): OpenAIProvider {
  return new OpenAIProvider({ env: new Map(), retry: { maxRetries: 0 } });
}

/** A child that makes one model call and ends with its answer. */
function kid(server: ModelServer, options: Record<string, unknown> = {}) {
  return {
    id: "kid",
    name: "kid",
    version: "1",
    model: {
      provider: "openai",
      name: "local",
      options: { baseURL: `${server.url}/v1`, maxTokens: MAX_TOKENS, ...options },
    },
    tools: ["exit"],
    capabilities: [MODEL],
  };
}

/** A scripted parent that spawns `n` kids at once, waits for each, and exits. */
function parent(n: number, subtreeTokens: number) {
  const pids = Array.from({ length: n }, (_, i) => `p_${i + 2}`);
  return scripted([
    { calls: pids.map(() => call("spawn_process", { goal: "answer", image: "kid" })) },
    ...pids.map((pid) => call("wait_process", { pid })),
    call("exit", { result: "done" }),
  ], {
    budgets: { subtreeTokens },
    capabilities: [{ ...MODEL, delegable: true }, { resource: "proc", rights: ["spawn"] }],
  });
}

/** Until `ready` holds (checked after each turn of the event loop), at most `ms`. */
async function until(ready: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ready())) {
    if (Date.now() > end) throw new Error("timed out waiting for the condition");
    await new Promise((r) => setTimeout(r, 1));
  }
}

Deno.test("8 children of a parent whose subtree budget fits ~3 calls, calling at once: 3 calls reach the slow server, 5 are refused naming the budget", async () => {
  let release!: () => void;
  const hold = new Promise<void>((r) => release = r);
  const answer = chatCompletion({ content: "done" }, "stop", chatUsage(20, 5));
  await using server = startModelServer(Array(8).fill(answer), { hold });
  await using t = await bootPlane({ models: [provider()] });
  assert.equal((await t.call("/v1/images", { body: kid(server, { stream: false }) })).status, 201);
  // Each call holds MAX_TOKENS + its prompt (well under 160 tokens): 3 fit, 4 do not.
  const budget = 3 * MAX_TOKENS + 480;
  const spawned = await t.call("/v1/processes", {
    body: { image: parent(8, budget), goal: "fan out" },
  });
  assert.equal(spawned.status, 201, spawned.text);
  const kids = async (): Promise<ProcessRecord[]> =>
    (await t.call("/v1/processes?parent=p_1")).json.processes;
  try {
    // Every child has decided: refused, or holding its call at the server
    // (a kernel without holds lets all 8 through, which ends the wait too).
    await until(async () => {
      const ps = await kids();
      const failed = ps.filter((p) => p.state === "failed").length;
      const holding = ps.filter((p) => p.usage.reservedTokens > 0).length;
      return server.requests.length > 3 ||
        (ps.length === 8 && failed + holding === 8 && server.requests.length === holding);
    });
    assert.equal(server.requests.length, 3, "three calls reached the server");
    const during = await kids();
    const refused = during.filter((p) => p.state === "failed");
    const held = during.filter((p) => p.usage.reservedTokens > 0);
    assert.equal(refused.length, 5);
    for (const p of refused) {
      assert.match(
        p.reason ?? "",
        new RegExp(
          `^budget: tokens of the subtree of p_1 \\(${budget}\\) would be exceeded: .* are left \\(\\d+ held by model calls in flight\\)$`,
        ),
      );
      assert.equal(p.usage.tokens, 0, "a refused call spends nothing");
    }
    for (const p of held) {
      assert.ok(p.usage.reservedTokens > MAX_TOKENS && p.usage.reservedTokens < MAX_TOKENS + 160);
      assert.equal(p.usage.subtreeReservedTokens, p.usage.reservedTokens);
    }
    // The parent's view shows what its subtree holds next to what it spent.
    const root = (await t.call("/v1/processes/p_1")).json;
    assert.equal(
      root.usage.subtreeReservedTokens,
      held.reduce((n, p) => n + p.usage.reservedTokens, 0),
    );
    assert.equal(root.usage.subtreeTokens, 0);
  } finally {
    // Let the held calls go even when an assertion failed, so the kernel can stop.
    release();
  }
  const done = await t.call("/v1/processes/p_1/wait?until=terminal&timeoutMs=10000");
  assert.equal(done.json.process.state, "exited", done.text);
  assert.equal(server.requests.length, 3, "no call reached the server after the answers");
  // Each answer settled its hold to the real usage (20 in, 5 out).
  const after = await kids();
  assert.deepEqual(after.map((p) => p.state).sort(), [
    ...Array(3).fill("exited"),
    ...Array(5).fill("failed"),
  ]);
  for (const p of after) {
    assert.equal(p.usage.reservedTokens, 0);
    assert.equal(p.usage.tokens, p.state === "exited" ? 25 : 0);
  }
  assert.equal(done.json.process.usage.subtreeTokens, 75);
  assert.equal(done.json.process.usage.subtreeReservedTokens, 0);
});

Deno.test("a child killed over the API mid-call is charged its hold: the call may have run", async () => {
  let release!: () => void;
  const hold = new Promise<void>((r) => release = r);
  await using server = startModelServer([chatStream({ text: ["…"], finish: "stop", hang: true })], {
    hold,
  });
  await using t = await bootPlane({ models: [provider()] });
  assert.equal((await t.call("/v1/images", { body: kid(server) })).status, 201);
  await t.call("/v1/processes", { body: { image: parent(1, 100_000), goal: "one" } });
  let heldNow = 0;
  let done!: Answer;
  try {
    await until(() => server.requests.length === 1);
    heldNow = (await t.call("/v1/processes/p_2")).json.usage.reservedTokens;
    assert.ok(heldNow > MAX_TOKENS);
    const killed = await t.call("/v1/processes/p_2/signal", { body: { signal: "kill" } });
    assert.equal(killed.status, 200, killed.text);
    done = await t.call("/v1/processes/p_1/wait?until=terminal&timeoutMs=10000");
    // The aborted call comes back to its quantum, which charges the hold.
    await until(async () => (await t.call("/v1/processes/p_2")).json.usage.reservedTokens === 0);
    assert.equal(done.json.process.state, "exited", done.text);
  } finally {
    release();
  }
  const child = (await t.call("/v1/processes/p_2")).json;
  assert.equal(child.state, "killed");
  assert.deepEqual(
    [child.usage.tokens, child.usage.reservedTokens],
    [heldNow, 0],
    "the hold became spend",
  );
  const root = (await t.call("/v1/processes/p_1")).json;
  assert.deepEqual([root.usage.subtreeTokens, root.usage.subtreeReservedTokens], [heldNow, 0]);
  const charges = await t.call("/v1/audit?action=model.charge");
  assert.deepEqual(
    charges.json.records.map((e: { pid: string; detail: unknown }) => [e.pid, e.detail]),
    [["p_2", { tokens: heldNow, costMicroUsd: 0, cause: "cancelled" }]],
  );
});

Deno.test("a call the server refuses outright (HTTP 401) is released, not charged: nothing was generated", async () => {
  await using server = startModelServer([unauthorized("sk-none")]);
  await using t = await bootPlane({ models: [provider()] });
  assert.equal((await t.call("/v1/images", { body: kid(server) })).status, 201);
  await t.call("/v1/processes", { body: { image: parent(1, 100_000), goal: "one" } });
  const done = await t.call("/v1/processes/p_1/wait?until=terminal&timeoutMs=10000");
  assert.equal(done.json.process.state, "exited", done.text);
  const child = (await t.call("/v1/processes/p_2")).json;
  assert.equal(child.state, "failed");
  assert.match(child.reason, /HTTP 401/);
  assert.deepEqual([child.usage.tokens, child.usage.reservedTokens], [0, 0]);
  const root = (await t.call("/v1/processes/p_1")).json;
  assert.deepEqual([root.usage.subtreeTokens, root.usage.subtreeReservedTokens], [0, 0]);
  assert.deepEqual((await t.call("/v1/audit?action=model.charge")).json.records, []);
});

Deno.test("a kernel that dies while a model call is at the server: on recovery the call is charged its hold (here and in the parent's subtree), then made again", async () => {
  const store = new CrashableStore(new MemoryStore());
  // The first call hangs at the server (the kernel dies meanwhile); the second is answered.
  await using server = startModelServer([
    chatStream({ text: ["…"], finish: "stop", hang: true }),
    chatStream({ text: ["done"], finish: "stop", usage: chatUsage(50, 12) }),
  ]);
  const k1 = await Kernel.create({ store, models: [provider()] });
  await k1.registerImage(kid(server, { price: { inputPerMTok: 1, outputPerMTok: 2 } }));
  await k1.spawn({ image: parent(1, 100_000), goal: "one" });
  await until(() => server.requests.length === 1);
  const held = k1.get("p_2").usage;
  assert.ok(held.reservedTokens > MAX_TOKENS && held.reservedCostMicroUsd > 0);
  assert.equal(k1.get("p_1").usage.subtreeReservedTokens, held.reservedTokens);
  store.crash();

  await using k2 = await Kernel.create({ store: store.inner as MemoryStore, models: [provider()] });
  const plane = await ControlPlane.create(k2, { adminToken: ADMIN });
  try {
    const done = await request(plane, "/v1/processes/p_1/wait?until=terminal&timeoutMs=10000");
    assert.equal(done.json.process.state, "exited", done.text);
    const child = (await request(plane, "/v1/processes/p_2")).json;
    assert.equal(child.state, "exited", child.reason);
    assert.equal(server.requests.length, 2, "the lost call was made again, once");
    // The lost call's hold, then the real usage of the call made again.
    const cost2 = 50 * 1 + 12 * 2;
    assert.deepEqual(
      [child.usage.tokens, child.usage.costMicroUsd, child.usage.reservedTokens],
      [held.reservedTokens + 62, held.reservedCostMicroUsd + cost2, 0],
    );
    assert.deepEqual(
      [done.json.process.usage.subtreeTokens, done.json.process.usage.subtreeReservedTokens],
      [held.reservedTokens + 62, 0],
    );
    const charges = await request(plane, "/v1/audit?action=model.charge");
    assert.deepEqual(
      charges.json.records.map((e: { pid: string; actor: string; detail: unknown }) => [
        e.pid,
        e.actor,
        e.detail,
      ]),
      [["p_2", "kernel:recovery", {
        tokens: held.reservedTokens,
        costMicroUsd: held.reservedCostMicroUsd,
        cause: "crash",
      }]],
    );
  } finally {
    plane.close();
  }
});
