/**
 * Model spend reserved. Before a real model call leaves the kernel, its worst
 * case (the prompt's estimate + `maxTokens`, and the cost of that where the
 * model is priced) is held against the process's own budget and every
 * ancestor's subtree budget, in the same store batch as the call's decision
 * and grant spend. The check before a call counts what is held as spent, and
 * the check and the hold are one synchronous step, so calls of one subtree made
 * at the same moment can never together pass a budget.
 *
 * The answer settles the hold to the real usage. A call whose outcome is not
 * known — cancelled or killed mid-call, or lost in a kernel crash (recovery
 * finds the hold still outstanding) — is charged its hold: it may have run and
 * been billed. A call the server refused outright (`EPERM`, `EINVAL`, `ELIMIT`:
 * HTTP 401/403, 400/404/413/422, 429) is released, as nothing was generated.
 *
 * @module
 */
import type { Batch } from "../engine/batch.ts";
import type { KernelCore } from "../kernel_core.ts";

/** The services a reservation writes with. */
type Kernel = Pick<KernelCore, "records" | "procs">;
import type { ProcessRecord } from "../types.ts";

/** An amount of model spend: tokens and whole micro-dollars. */
export interface ModelSpend {
  tokens: number;
  costMicroUsd: number;
}

/** Why a held call is charged its hold rather than its usage. */
export type UnsettledCause = "cancelled" | "crash";

/** What a model call of `p` holds now (zero when none is in flight). */
export function heldBy(p: ProcessRecord): ModelSpend {
  return { tokens: p.usage.reservedTokens, costMicroUsd: p.usage.reservedCostMicroUsd };
}

/** Whether `p` has a model call in flight (a hold not yet settled). */
export function isHeld(p: ProcessRecord): boolean {
  return p.usage.reservedTokens > 0 || p.usage.reservedCostMicroUsd > 0;
}

/**
 * Holds `amount` for `p`'s next model call against its own budget and its
 * ancestors' subtree budgets, in `batch` (committed before the call).
 */
export function reserveModelCall(
  k: Kernel,
  batch: Batch,
  p: ProcessRecord,
  amount: ModelSpend,
): void {
  if (isHeld(p)) {
    throw new RangeError(`Cannot reserve a model call for ${p.pid}: one is in flight already`);
  }
  _meter(k, batch, p, amount, { tokens: 0, costMicroUsd: 0 });
}

/**
 * Ends `p`'s hold and charges `used` in its place, to `p` and to every
 * ancestor's subtree (a free call with nothing held writes nothing).
 */
export function settleModelCall(
  k: Kernel,
  batch: Batch,
  p: ProcessRecord,
  used: ModelSpend,
): void {
  const held = heldBy(p);
  _meter(k, batch, p, { tokens: -held.tokens, costMicroUsd: -held.costMicroUsd }, used);
}

/**
 * Moves `p`'s meters by `hold` (held by its call in flight) and `spend`
 * (spent), and its ancestors' subtree meters by the same; writes nothing
 * when both are zero.
 */
function _meter(
  k: Kernel,
  batch: Batch,
  p: ProcessRecord,
  hold: ModelSpend,
  spend: ModelSpend,
): void {
  p.usage.reservedTokens += hold.tokens;
  p.usage.reservedCostMicroUsd += hold.costMicroUsd;
  p.usage.tokens += spend.tokens;
  p.usage.costMicroUsd += spend.costMicroUsd;
  if (
    hold.tokens === 0 && hold.costMicroUsd === 0 && spend.tokens === 0 && spend.costMicroUsd === 0
  ) {
    return;
  }
  for (const q of _lineage(k, p)) {
    q.usage.subtreeReservedTokens += hold.tokens;
    q.usage.subtreeReservedCostMicroUsd += hold.costMicroUsd;
    q.usage.subtreeTokens += spend.tokens;
    q.usage.subtreeCostMicroUsd += spend.costMicroUsd;
    k.records.saveProcess(batch, q);
  }
}

/**
 * Charges `p` its outstanding hold as spend (a call whose outcome is not
 * known), audited as `model.charge` with the cause. Returns what was charged,
 * or null when nothing was held.
 */
export function chargeHeld(
  k: Kernel,
  batch: Batch,
  p: ProcessRecord,
  options: { cause: UnsettledCause; actor: string },
): ModelSpend | null {
  if (!isHeld(p)) return null;
  const held = heldBy(p);
  settleModelCall(k, batch, p, held);
  k.records.audit(batch, {
    actor: options.actor,
    action: "model.charge",
    pid: p.pid,
    detail: { ...held, cause: options.cause },
  });
  return held;
}

/** `p`, then those of its ancestors still in the process table. */
function _lineage(k: Kernel, p: ProcessRecord): ProcessRecord[] {
  const out = [p];
  for (const a of p.lineage) {
    const q = k.procs.find(a);
    if (q !== undefined) out.push(q);
  }
  return out;
}

/**
 * At boot no model call is in flight: each hold a crash left outstanding is
 * charged as spend (cause `crash`), and every subtree's held total is then 0
 * (a stored total may include a sibling's hold whose own record never landed).
 * Returns the processes charged.
 */
export function chargeLeftHolds(
  k: Kernel,
  batch: Batch,
  procs: readonly ProcessRecord[] = [...k.procs.values()],
): ProcessRecord[] {
  for (const p of procs) {
    // A record stored before holds existed has none.
    if (typeof p.usage.reservedTokens !== "number") {
      Object.assign(p.usage, {
        reservedTokens: 0,
        reservedCostMicroUsd: 0,
        subtreeReservedTokens: 0,
        subtreeReservedCostMicroUsd: 0,
      });
    }
  }
  const charged = procs.filter((p) =>
    chargeHeld(k, batch, p, { cause: "crash", actor: "kernel:recovery" }) !== null
  );
  for (const p of procs) {
    if (p.usage.subtreeReservedTokens === 0 && p.usage.subtreeReservedCostMicroUsd === 0) continue;
    p.usage.subtreeReservedTokens = 0;
    p.usage.subtreeReservedCostMicroUsd = 0;
    k.records.saveProcess(batch, p);
  }
  return charged;
}
