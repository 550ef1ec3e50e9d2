/**
 * The kernel's side of real models: one repair turn for malformed tool calls,
 * cost and subtree budgets checked before a call, the context policy.
 */
import assert from "node:assert/strict";
import type { ModelProvider, ModelRequest, ModelResponse } from "../mod.ts";
import { bootKernel, outcome, toolResults } from "./helpers.ts";

type Turn = (
  req: ModelRequest,
) => Omit<ModelResponse, "usage"> & { usage?: ModelResponse["usage"] };

/** A provider that answers turn by turn from a list, remembering what it saw. */
function fake(turns: Turn[]): ModelProvider & { seen: ModelRequest[] } {
  const seen: ModelRequest[] = [];
  return {
    name: "fake",
    seen,
    complete(req) {
      seen.push({ ...req, messages: [...req.messages] });
      const t = turns[Math.min(req.turn, turns.length - 1)]!(req);
      return Promise.resolve({ usage: { inputTokens: 10, outputTokens: 5 }, ...t });
    },
  };
}

const grant = { resource: "model:fake/*", rights: ["call"] };

function image(options: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return {
    id: `fake-${crypto.randomUUID().slice(0, 8)}`,
    name: "f",
    version: "1",
    model: { provider: "fake", name: "m1", options },
    tools: ["*"],
    ...extra,
  };
}

const malformed = { name: "now", args: { __malformed: "{not json" } };

Deno.test("a malformed tool call gets one repair turn; a second malformed turn in a row fails the process", async () => {
  const model = fake([() => ({ text: null, calls: [malformed], stop: "tool_calls" })]);
  await using t = await bootKernel({ models: [model] });
  const p = await t.kernel.spawn({ image: image(), goal: "g", capabilities: [grant] });
  const done = await t.kernel.wait(p.pid, { until: "terminal" });
  assert.equal(done.state, "failed");
  assert.match(done.reason ?? "", /malformed on two turns in a row/);
  assert.equal(model.seen.length, 2, "the original turn and one repair turn");
  const [first] = await toolResults(t.kernel, p.pid);
  assert.equal(outcome(first), "EINVAL");
  assert.match(!first!.result.ok ? first!.result.error.message : "", /Repair: call 'now' again/);
});

Deno.test("a repaired call resets the count: malformed, good, malformed, final answer", async () => {
  const model = fake([
    () => ({ text: null, calls: [malformed], stop: "tool_calls" }),
    () => ({ text: null, calls: [{ name: "now", args: {} }], stop: "tool_calls" }),
    () => ({ text: null, calls: [malformed], stop: "tool_calls" }),
    () => ({ text: "done", calls: [], stop: "end" }),
  ]);
  await using t = await bootKernel({ models: [model] });
  const p = await t.kernel.spawn({ image: image(), goal: "g", capabilities: [grant] });
  const done = await t.kernel.wait(p.pid, { until: "terminal" });
  assert.equal(done.state, "exited");
  assert.deepEqual(done.result, { text: "done" });
});

Deno.test("a cost budget refuses a call that could exceed it before the model is asked", async () => {
  const model = fake([
    () => ({ text: null, calls: [{ name: "now", args: {} }], stop: "tool_calls" }),
  ]);
  await using t = await bootKernel({ models: [model] });
  // $1 per token: every turn costs at least its input, and may cost 20 more.
  const img = image(
    { price: { inputPerMTok: 1_000_000, outputPerMTok: 1_000_000 }, maxTokens: 20 },
    { budgets: { costUsd: 400 } },
  );
  const p = await t.kernel.spawn({ image: img, goal: "spend", capabilities: [grant] });
  const done = await t.kernel.wait(p.pid, { until: "terminal" });
  assert.equal(done.state, "failed");
  assert.match(done.reason ?? "", /^budget: cost of process p_1 \(\$400\) would be exceeded/);
  assert.equal(
    done.usage.costMicroUsd,
    model.seen.length * 15 * 1_000_000,
    "each call's usage was charged",
  );
  assert.ok(done.usage.costMicroUsd <= 400 * 1_000_000);
});

Deno.test("a subtree token budget counts the children's model calls", async () => {
  const model = fake([
    (req) =>
      req.pid === "p_1"
        ? {
          text: null,
          calls: [{ name: "spawn_process", args: { goal: "child", image: "kid" } }],
          stop: "tool_calls",
        }
        : { text: null, calls: [{ name: "now", args: {} }], stop: "tool_calls" },
    (req) =>
      req.pid === "p_1"
        ? {
          text: null,
          calls: [{ name: "wait_process", args: { pid: "p_2" } }],
          stop: "tool_calls",
        }
        : { text: null, calls: [{ name: "now", args: {} }], stop: "tool_calls" },
    () => ({ text: null, calls: [{ name: "now", args: {} }], stop: "tool_calls" }),
  ]);
  await using t = await bootKernel({ models: [model] });
  await t.kernel.registerImage({ ...image({ maxTokens: 10 }), id: "kid", capabilities: [grant] });
  const parent = await t.kernel.spawn({
    image: image({ maxTokens: 10 }, { budgets: { subtreeTokens: 3000 } }),
    goal: "delegate",
    capabilities: [grant, { resource: "model:fake/*", rights: ["call"], delegable: true }, {
      resource: "proc",
      rights: ["spawn"],
    }],
  });
  const done = await t.kernel.wait(parent.pid, { until: "terminal" });
  const child = t.kernel.get("p_2");
  assert.equal(child.state, "failed");
  assert.match(
    child.reason ?? "",
    /^budget: tokens of the subtree of p_1 \(3000\) would be exceeded/,
  );
  assert.equal(
    t.kernel.get(parent.pid).usage.subtreeTokens,
    done.usage.tokens + child.usage.tokens,
  );
});

Deno.test("the context policy moves old tool results into objects and sends a stub", async () => {
  const big = "x".repeat(4000);
  const model = fake([
    (req) =>
      req.turn < 6
        ? {
          text: null,
          calls: [{ name: "read_text_file", args: { path: "big.txt" } }],
          stop: "tool_calls",
        }
        : { text: "done", calls: [], stop: "end" },
  ]);
  await using t = await bootKernel({ models: [model], files: { "big.txt": big } });
  const p = await t.kernel.spawn({
    // Two tools only, so that the budget is about the results, not the tool table's size.
    image: image({ contextTokens: 4500 }, { tools: ["read_text_file", "exit"] }),
    goal: "read a lot",
    capabilities: [grant, { resource: "fs:big.txt", rights: ["read"] }],
  });
  const done = await t.kernel.wait(p.pid, { until: "terminal" });
  assert.equal(done.state, "exited", done.reason ?? "");
  const last = model.seen.at(-1)!;
  const stub = last.messages.find((m) =>
    m.role === "tool" && m.result.ok && (m.result.value as { elided?: boolean }).elided === true
  );
  assert.ok(stub, "an old result was replaced by a stub");
  const kept = t.kernel.listObjects(`proc/${p.pid}`).filter((o) => o.name.startsWith("ctx-"));
  assert.ok(kept.length > 0);
  assert.equal(
    (kept[0]!.payload as { value: { text: string } }).value.text,
    big,
    "the object holds the whole result",
  );
});

Deno.test("a counted model grant is spent by each call, before the model is asked: a third call is refused", async () => {
  const model = fake([
    () => ({ text: null, calls: [{ name: "now", args: {} }], stop: "tool_calls" }),
  ]);
  await using t = await bootKernel({ models: [model] });
  const p = await t.kernel.spawn({
    image: image(),
    goal: "g",
    capabilities: [{ ...grant, uses: 2 }],
  });
  const done = await t.kernel.wait(p.pid, { until: "terminal" });
  assert.equal(done.state, "failed");
  assert.match(done.reason ?? "", /holds no model call capability/);
  assert.equal(model.seen.length, 2, "two calls under a uses: 2 grant");
  assert.equal(t.kernel.capabilities(p.pid).find((g) => g.resource === grant.resource)?.uses, 0);
});
