import assert from "node:assert/strict";
import { elidedObjectName, estimateTokens, fitContext, messageTokens } from "./context_policy.ts";
import type { ContextMessage } from "../models/model_provider.ts";

/** A goal, then `turns` turns of one read_text_file call whose result is `size` characters. */
function conversation(turns: number, size = 4000): ContextMessage[] {
  const out: ContextMessage[] = [{ role: "user", text: "Summarize the repository." }];
  for (let t = 0; t < turns; t += 1) {
    const id = `c${t}.0`;
    out.push({
      role: "assistant",
      text: null,
      calls: [{ id, name: "read_text_file", args: { path: `f${t}` } }],
    });
    out.push({
      role: "tool",
      callId: id,
      name: "read_text_file",
      result: { ok: true, value: { text: "x".repeat(size) } },
    });
  }
  return out;
}

const total = (ms: ContextMessage[]) => ms.reduce((n, m) => n + messageTokens(m), 0);

Deno.test("fitContext leaves a context that fits untouched", () => {
  const ms = conversation(2, 100);
  const r = fitContext(ms, { budget: 10_000 });
  assert.deepEqual(r, { messages: ms, elided: [], tokens: total(ms), fits: true });
});

Deno.test("fitContext elides the oldest large results into named stubs and brings the prompt under budget", () => {
  const ms = conversation(10); // ~1000 tokens per result
  const r = fitContext(ms, { budget: 6000, keepRecent: 4, step: 4, system: "You summarize." });
  assert.equal(r.fits, true);
  assert.ok(r.tokens <= 6000 && r.tokens === estimateTokens("You summarize.") + total(r.messages));
  // Whole steps of 4 messages: the first boundary that fits is 12 (results c0..c4 elided).
  assert.deepEqual(r.elided.map((e) => e.callId), ["c0.0", "c1.0", "c2.0", "c3.0", "c4.0"]);
  assert.equal(r.elided[0]!.name, "ctx-c0-0");
  const original = ms[2]!;
  assert.ok(original.role === "tool");
  assert.deepEqual(r.elided[0]!.result, original.result);
  const stub = r.messages[2]!;
  assert.ok(stub.role === "tool" && stub.callId === "c0.0" && stub.result.ok);
  assert.deepEqual(
    (stub.result as { value: Record<string, unknown> }).value["object"],
    elidedObjectName("c0.0"),
  );
  // Every call keeps a result message, and the goal, the calls and the newest messages are whole.
  assert.equal(r.messages.length, ms.length);
  assert.deepEqual(r.messages[0], ms[0]);
  assert.deepEqual(r.messages.slice(-4), ms.slice(-4));
  assert.deepEqual(
    r.messages.filter((m) => m.role === "assistant"),
    ms.filter((m) => m.role === "assistant"),
  );
});

Deno.test("fitContext keeps the elided prefix byte-stable while the conversation grows within a step", () => {
  const opts = { budget: 6000, keepRecent: 2, step: 8 };
  const a = fitContext(conversation(7), opts);
  const b = fitContext(conversation(8), opts);
  assert.ok(a.elided.length > 0);
  assert.deepEqual(
    b.messages.slice(0, a.messages.length - 2),
    a.messages.slice(0, a.messages.length - 2),
  );
});

Deno.test("fitContext says when even the most elision allowed does not fit", () => {
  const ms: ContextMessage[] = [
    { role: "user", text: "g".repeat(40_000) },
    ...conversation(1).slice(1),
  ];
  const r = fitContext(ms, { budget: 1000, keepRecent: 0 });
  assert.equal(r.fits, false);
  assert.deepEqual(r.elided.map((e) => e.callId), ["c0.0"]);
});
