import assert from "node:assert/strict";
import type { ModelRequest } from "./model_provider.ts";
import { ScriptedModel } from "./scripted_model.ts";

function request(turn: number, overrides: Partial<ModelRequest> = {}): ModelRequest {
  return {
    pid: "p_1",
    model: {
      provider: "scripted",
      steps: [
        { tool: "spawn_process", args: { goal: "x" } },
        {
          text: "thinking",
          calls: [{ tool: "wait_process", args: { pid: { $ref: "steps[0].result.value.pid" } } }],
        },
      ],
      forked: [{ tool: "exit", args: { result: "child" } }],
    },
    forked: false,
    system: "",
    messages: [
      { role: "user", text: "goal" },
      {
        role: "assistant",
        text: null,
        calls: [{ id: "c0.0", name: "spawn_process", args: { goal: "x" } }],
      },
      {
        role: "tool",
        callId: "c0.0",
        name: "spawn_process",
        result: { ok: true, value: { pid: "p_7" } },
      },
    ],
    tools: [],
    turn,
    signal: new AbortController().signal,
    ...overrides,
  };
}

Deno.test("ScriptedModel resolves $ref to an earlier turn's tool result", async () => {
  const r = await new ScriptedModel().complete(request(1));
  assert.deepEqual(r.calls, [{ name: "wait_process", args: { pid: "p_7" } }]);
  assert.equal(r.text, "thinking");
});

Deno.test("ScriptedModel follows the forked script in a fork, and says when a script runs out", async () => {
  const m = new ScriptedModel();
  assert.deepEqual((await m.complete(request(0, { forked: true }))).calls, [{
    name: "exit",
    args: { result: "child" },
  }]);
  const out = await m.complete(request(2));
  assert.equal(out.stop, "exhausted");
  assert.match(out.text ?? "", /ran out after 2 steps/);
});

Deno.test("ScriptedModel refuses a malformed $ref or one to a turn without a result", async () => {
  const bad = request(1, {
    model: {
      provider: "scripted",
      steps: [{ tool: "x", args: {} }, { tool: "y", args: { a: { $ref: "turn 0" } } }],
    },
  });
  await assert.rejects(new ScriptedModel().complete(bad), { code: "EINVAL" });
  const early = request(1, {
    model: {
      provider: "scripted",
      steps: [{ tool: "x", args: {} }, { tool: "y", args: { a: { $ref: "steps[5].result" } } }],
    },
  });
  await assert.rejects(new ScriptedModel().complete(early), /no result yet/);
});
