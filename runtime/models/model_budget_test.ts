import assert from "node:assert/strict";
import { type CallEstimate, checkModelCall, worstCase } from "./model_budget.ts";

const call: CallEstimate = {
  inputTokens: 3000,
  maxOutputTokens: 1000,
  price: { inputPerMTok: 3, outputPerMTok: 15 },
  target: "anthropic/claude-sonnet-4-6",
};

Deno.test("checkModelCall lets a call through when every scope has room for its worst case", () => {
  assert.equal(
    checkModelCall(call, [
      { label: "process p_2", limits: { tokens: 10_000 }, used: { tokens: 6000, costUsd: 0 } },
      { label: "the subtree of p_1", limits: { costUsd: 1 }, used: { tokens: 0, costUsd: 0.97 } },
    ]),
    null,
  );
});

Deno.test("checkModelCall refuses a call that would pass a process's token budget, saying what is left", () => {
  assert.equal(
    checkModelCall(call, [{
      label: "process p_2",
      limits: { tokens: 10_000 },
      used: { tokens: 6001, costUsd: 0 },
    }]),
    "budget: tokens of process p_2 (10000) would be exceeded: this call may use 4000 (3000 in, up to 1000 out) and 3999 are left",
  );
});

Deno.test("checkModelCall refuses a call that would pass an ancestor's subtree cost budget", () => {
  const reason = checkModelCall(call, [
    { label: "process p_3", limits: {}, used: { tokens: 0, costUsd: 0 } },
    { label: "the subtree of p_1", limits: { costUsd: 0.5 }, used: { tokens: 0, costUsd: 0.49 } },
  ]);
  assert.equal(
    reason,
    "budget: cost of the subtree of p_1 ($0.5) would be exceeded: this call may cost $0.024000 and $0.010000 is left",
  );
});

Deno.test("checkModelCall refuses to guess the cost of a model with no price under a cost budget", () => {
  const reason = checkModelCall({ ...call, price: null, target: "openai/llama3.2" }, [
    { label: "process p_1", limits: { costUsd: 5 }, used: { tokens: 0, costUsd: 0 } },
  ]);
  assert.match(reason ?? "", /cannot be checked: model 'openai\/llama3.2' has no price/);
});

Deno.test("checkModelCall counts what calls in flight hold as spent, and says so", () => {
  const scope = {
    label: "the subtree of p_1",
    limits: { tokens: 10_000, costUsd: 1 },
    used: { tokens: 1000, costUsd: 0 },
  };
  assert.equal(checkModelCall(call, [{ ...scope, reserved: { tokens: 5000, costUsd: 0 } }]), null);
  assert.equal(
    checkModelCall(call, [{ ...scope, reserved: { tokens: 5001, costUsd: 0 } }]),
    "budget: tokens of the subtree of p_1 (10000) would be exceeded: this call may use 4000 (3000 in, up to 1000 out) and 3999 are left (5001 held by model calls in flight)",
  );
  assert.equal(
    checkModelCall(call, [{ ...scope, reserved: { tokens: 0, costUsd: 0.99 } }]),
    "budget: cost of the subtree of p_1 ($1) would be exceeded: this call may cost $0.024000 and $0.010000 is left ($0.990000 held by model calls in flight)",
  );
});

Deno.test("worstCase is what a call reserves: prompt + maxTokens, and its cost in micro-dollars (0 unpriced)", () => {
  assert.deepEqual(worstCase(call), { tokens: 4000, costMicroUsd: 24_000 });
  assert.deepEqual(worstCase({ ...call, price: null }), { tokens: 4000, costMicroUsd: 0 });
});
