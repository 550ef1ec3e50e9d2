/**
 * What a model turn costs: a price table per model (US dollars per million
 * tokens) and the cost of a usage. The table holds vendors' list prices as
 * known when it was written; an image overrides it with `model.options.price`,
 * and a model it does not know (a local server, a new model) has no price, so
 * that a cost budget can refuse to guess.
 *
 * @module
 */
import type { ModelUsage } from "./model_provider.ts";

/** A price in US dollars per million tokens. */
export interface Price {
  inputPerMTok: number;
  outputPerMTok: number;
}

/**
 * List prices by `provider/model-prefix`; the longest prefix of the model name
 * wins (`gpt-4o-mini-2024-07-18` is priced as `gpt-4o-mini`).
 */
export const PRICES: Readonly<Record<string, Price>> = {
  "openai/gpt-4o": { inputPerMTok: 2.5, outputPerMTok: 10 },
  "openai/gpt-4o-mini": { inputPerMTok: 0.15, outputPerMTok: 0.6 },
  "openai/gpt-4.1": { inputPerMTok: 2, outputPerMTok: 8 },
  "openai/gpt-4.1-mini": { inputPerMTok: 0.4, outputPerMTok: 1.6 },
  "openai/gpt-4.1-nano": { inputPerMTok: 0.1, outputPerMTok: 0.4 },
  "openai/gpt-5": { inputPerMTok: 1.25, outputPerMTok: 10 },
  "openai/gpt-5-mini": { inputPerMTok: 0.25, outputPerMTok: 2 },
  "openai/gpt-5-nano": { inputPerMTok: 0.05, outputPerMTok: 0.4 },
  "openai/o3": { inputPerMTok: 2, outputPerMTok: 8 },
  "openai/o4-mini": { inputPerMTok: 1.1, outputPerMTok: 4.4 },
  "anthropic/claude-opus-4": { inputPerMTok: 15, outputPerMTok: 75 },
  "anthropic/claude-opus-4-5": { inputPerMTok: 5, outputPerMTok: 25 },
  "anthropic/claude-sonnet-4": { inputPerMTok: 3, outputPerMTok: 15 },
  "anthropic/claude-haiku-4-5": { inputPerMTok: 1, outputPerMTok: 5 },
  "anthropic/claude-3-5-haiku": { inputPerMTok: 0.8, outputPerMTok: 4 },
};

/**
 * The price of `provider/model`: `override` when given (the image's
 * `options.price`), else the table's longest matching prefix, else null.
 */
export function priceOf(
  provider: string,
  model: string,
  override?: Price,
  table: Readonly<Record<string, Price>> = PRICES,
): Price | null {
  if (override !== undefined) return override;
  const full = `${provider}/${model}`;
  let best: string | null = null;
  for (const prefix of Object.keys(table)) {
    if (full === prefix || full.startsWith(`${prefix}-`) || full.startsWith(`${prefix}.`)) {
      if (best === null || prefix.length > best.length) best = prefix;
    }
  }
  return best === null ? null : table[best]!;
}

/** The cost of a usage in US dollars. */
export function costOf(usage: ModelUsage, price: Price): number {
  return (usage.inputTokens * price.inputPerMTok + usage.outputTokens * price.outputPerMTok) / 1e6;
}

/**
 * A cost in whole micro-dollars (rounded up), the unit a kernel should add up
 * in, so that many small turns sum without floating-point drift.
 */
export function toMicroUsd(usd: number): number {
  return Math.ceil(usd * 1e6 - 1e-9);
}
