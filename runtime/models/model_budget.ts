/**
 * The check before a model call: would this call, at its worst, spend more
 * tokens or dollars than a budget has left? It looks at every scope that
 * governs the process (its own budget, and each ancestor's budget for its
 * whole subtree), counting what was spent and what calls in flight hold
 * reserved, so a call is refused before it is made, with a reason that
 * names the scope, the limit, what is left and what the call may take.
 *
 * @module
 */
import { type Price, toMicroUsd } from "./cost.ts";

/** One budget that governs a call: a process's own, or an ancestor's subtree. */
export interface BudgetScope {
  /** Who the budget belongs to, for the reason: `process p_3`, `the subtree of p_1`. */
  label: string;
  /** The limits; an absent one is unlimited. */
  limits: { tokens?: number; costUsd?: number };
  /** What has been spent against it so far. */
  used: { tokens: number; costUsd: number };
  /** What model calls in flight hold against it (their worst case); absent: none. */
  reserved?: { tokens: number; costUsd: number };
}

/** The most a call may spend. */
export interface CallEstimate {
  /** The prompt's tokens (an estimate, see `estimateTokens`). */
  inputTokens: number;
  /** The turn's output limit (`options.maxTokens`, or the provider's default). */
  maxOutputTokens: number;
  /** The model's price, or null when it has none. */
  price: Price | null;
  /** `provider/model`, for the reason. */
  target: string;
}

/** A call's worst case, what the kernel reserves before it: tokens, and micro-dollars (0 unpriced). */
export function worstCase(estimate: CallEstimate): { tokens: number; costMicroUsd: number } {
  return {
    tokens: estimate.inputTokens + estimate.maxOutputTokens,
    costMicroUsd: estimate.price === null ? 0 : toMicroUsd(_worstCostUsd(estimate, estimate.price)),
  };
}

/**
 * Null when the call fits every scope; otherwise the reason it does not, as
 * `budget: …` (the kernel fails the process with it, or refuses the call).
 */
export function checkModelCall(
  estimate: CallEstimate,
  scopes: readonly BudgetScope[],
): string | null {
  const tokens = estimate.inputTokens + estimate.maxOutputTokens;
  for (const s of scopes) {
    const held = s.reserved ?? { tokens: 0, costUsd: 0 };
    const limit = s.limits.tokens;
    if (limit !== undefined && s.used.tokens + held.tokens + tokens > limit) {
      const left = Math.max(0, limit - s.used.tokens - held.tokens);
      return `budget: tokens of ${s.label} (${limit}) would be exceeded: this call may use ${tokens} ` +
        `(${estimate.inputTokens} in, up to ${estimate.maxOutputTokens} out) and ${left} are left` +
        (held.tokens > 0 ? ` (${held.tokens} held by model calls in flight)` : "");
    }
    const cap = s.limits.costUsd;
    if (cap === undefined) continue;
    if (estimate.price === null) {
      return `budget: cost of ${s.label} cannot be checked: model '${estimate.target}' has no ` +
        `price (set model.options.price)`;
    }
    const cost = _worstCostUsd(estimate, estimate.price);
    if (s.used.costUsd + held.costUsd + cost > cap) {
      const left = Math.max(0, cap - s.used.costUsd - held.costUsd);
      return `budget: cost of ${s.label} ($${cap}) would be exceeded: this call may cost ` +
        `$${cost.toFixed(6)} and $${left.toFixed(6)} is left` +
        (held.costUsd > 0 ? ` ($${held.costUsd.toFixed(6)} held by model calls in flight)` : "");
    }
  }
  return null;
}

function _worstCostUsd(estimate: CallEstimate, price: Price): number {
  return (estimate.inputTokens * price.inputPerMTok +
    estimate.maxOutputTokens * price.outputPerMTok) / 1e6;
}
