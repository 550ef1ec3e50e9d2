import assert from "node:assert/strict";
import { costOf, priceOf, toMicroUsd } from "./cost.ts";

Deno.test("priceOf takes the longest matching prefix, honours an override, and knows no local model", () => {
  assert.deepEqual(priceOf("openai", "gpt-4o-mini-2024-07-18"), {
    inputPerMTok: 0.15,
    outputPerMTok: 0.6,
  });
  assert.deepEqual(priceOf("openai", "gpt-4o"), { inputPerMTok: 2.5, outputPerMTok: 10 });
  assert.deepEqual(priceOf("anthropic", "claude-opus-4-5-20251101"), {
    inputPerMTok: 5,
    outputPerMTok: 25,
  });
  assert.equal(priceOf("openai", "gpt-4omni"), null);
  assert.equal(priceOf("openai", "llama3.2"), null);
  const local = { inputPerMTok: 0, outputPerMTok: 0 };
  assert.equal(priceOf("openai", "llama3.2", local), local);
});

Deno.test("costOf prices input and output tokens separately, in dollars and micro-dollars", () => {
  const usd = costOf({ inputTokens: 1_000_000, outputTokens: 2_000 }, {
    inputPerMTok: 3,
    outputPerMTok: 15,
  });
  assert.equal(usd, 3.03);
  assert.equal(toMicroUsd(usd), 3_030_000);
  assert.equal(
    toMicroUsd(
      costOf({ inputTokens: 1, outputTokens: 0 }, { inputPerMTok: 0.15, outputPerMTok: 0 }),
    ),
    1,
  );
});
