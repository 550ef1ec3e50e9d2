/**
 * The human queue's decisions (DESIGN §2): answering a request (approve,
 * deny, answer; an outcome request happened, retry or fail), its expiry, and voiding it when what it rests on is gone (a
 * revoked grant, a restored checkpoint, an ended process). Each decision is
 * one batch: the request, the grant an approval makes, the journal entry, the
 * audit record and the waiting process's wake-up commit together.
 *
 * @module
 */
import { canonicalJson, sha256Hex } from "../audit/canonical_json.ts";
import { Batch } from "../engine/batch.ts";
import { libosError } from "../errors.ts";
import type { HumanDecision, KernelCore } from "../kernel_core.ts";

/** The services the human queue works with. */
type Kernel = Pick<KernelCore, "clock" | "grants" | "human" | "lifecycle" | "procs" | "records">;
import type { HumanRequest, HumanState, Pid } from "../types.ts";

/** Human requests, optionally by state and pid, oldest first. */
export function listHumanRequests(
  k: Pick<Kernel, "human">,
  filter: { state?: HumanState; pid?: Pid },
): HumanRequest[] {
  const out: HumanRequest[] = [];
  for (const r of k.human.values()) {
    if (filter.state !== undefined && r.state !== filter.state) continue;
    if (filter.pid !== undefined && r.pid !== filter.pid) continue;
    out.push(structuredClone(r));
  }
  return out.sort((a, b) => a.createdAt - b.createdAt || _idNum(a.id) - _idNum(b.id));
}

/**
 * Answers a human request for `actor`. The process wakes and its pending tool
 * call runs again from its start. A second decision is refused (`ESTATE`).
 */
export async function answerHumanRequest(
  k: Kernel,
  id: string,
  decision: HumanDecision,
  actor: string,
): Promise<HumanRequest> {
  const r = k.human.get(id);
  if (r === undefined) {
    throw libosError("ENOENT", `Cannot answer human request '${id}': no such request`);
  }
  if (![...DECISIONS, ...OUTCOME_DECISIONS].includes(decision.decision)) {
    throw libosError(
      "EINVAL",
      `Cannot answer '${id}': decision must be approve, deny, answer, happened, retry or fail`,
    );
  }
  if (r.state === "pending" && r.expiresAt !== null && k.clock.now() >= r.expiresAt) {
    // The answer and the expiry race to one commit, and the expiry won (its
    // timer had not fired yet): it is committed now, the process wakes, and
    // the late answer is audited too.
    const batch = new Batch();
    _expire(k, batch, r);
    _late(k, batch, r, actor, decision.decision);
    await k.records.commit(batch);
    throw libosError("EEXPIRED", `Cannot answer human request '${id}': it expired unanswered`, {
      id,
    });
  }
  if (
    r.state === "pending" && decision.previewSha256 !== undefined &&
    decision.previewSha256 !== r.previewSha256
  ) {
    throw libosError(
      "ESTALE",
      `Cannot answer human request '${id}': the answer is for preview ${
        String(decision.previewSha256).slice(0, 12)
      }…, but the request shows ${r.previewSha256.slice(0, 12)}…; read it again`,
      { id },
    );
  }
  if (r.state !== "pending") {
    // A second decision is refused and changes nothing.
    throw libosError("ESTATE", `Cannot answer human request '${id}': it is already ${r.state}`, {
      id,
    });
  }
  const outcome = _outcomeOf(r, decision);
  if (r.kind === "question" && decision.decision === "approve") {
    throw libosError(
      "EINVAL",
      `Cannot approve question '${id}': answer it (decision "answer") or deny it`,
    );
  }
  if (r.kind !== "question" && decision.decision === "answer") {
    throw libosError(
      "EINVAL",
      `Cannot answer ${r.kind} request '${id}' with text: approve or deny it`,
    );
  }
  if (decision.decision === "answer" && typeof decision.answer !== "string") {
    throw libosError("EINVAL", `Cannot answer '${id}': 'answer' must be a string`);
  }
  const batch = new Batch();
  const now = k.clock.now();
  r.state = decision.decision === "approve"
    ? "approved"
    : decision.decision === "deny"
    ? "denied"
    : "answered";
  r.decidedAt = now;
  r.decidedBy = actor;
  r.answer = outcome?.decision ?? decision.answer ?? null;
  if (outcome?.decision === "happened") r.value = outcome.value;
  r.scope = outcome === null ? decision.scope ?? "once" : null;
  if (
    r.state === "approved" && (r.kind === "permission" || r.scope === "always") &&
    r.resource !== null
  ) {
    // A permission grant (or an "always" approval) becomes a capability. An
    // approval's grant derives from the grant that asked: revoking, expiring
    // or restoring that one takes this one with it.
    const asked = r.grantId === null ? undefined : k.grants.get(r.grantId);
    k.records.saveGrant(batch, {
      id: k.records.nextId("grant", "g_", batch),
      subject: r.pid,
      resource: r.resource,
      rights: [...r.rights],
      effect: "allow",
      uses: r.scope === "always" ? null : 1,
      expiresAt: asked?.expiresAt ?? null,
      delegable: false,
      parentId: asked?.id ?? null,
      issuedBy: `human:${r.id}`,
      revoked: false,
      createdAt: now,
    });
  }
  k.records.saveHuman(batch, r);
  const said = outcome === null
    ? {}
    : outcome.decision === "happened"
    ? { outcome: outcome.decision, valueSha256: sha256Hex(canonicalJson(outcome.value)) }
    : { outcome: outcome.decision };
  k.records.journal(batch, r.pid, "human", {
    requestId: r.id,
    decision: r.state,
    by: actor,
    scope: r.scope,
    ...said,
  });
  k.records.audit(batch, {
    actor,
    action: `human.${r.state}`,
    pid: r.pid,
    resource: r.resource,
    capabilityId: r.grantId,
    callId: r.callId,
    detail: { request: r.id, kind: r.kind, scope: r.scope, actionHash: r.actionHash, ...said },
  });
  _wake(k, batch, r, actor);
  await k.records.commit(batch);
  return structuredClone(r);
}

/** The decisions of approval, permission and question requests. */
const DECISIONS: readonly string[] = ["approve", "deny", "answer"];
/** The decisions of an outcome request. */
const OUTCOME_DECISIONS: readonly string[] = ["happened", "retry", "fail"];

/**
 * An outcome request's decision (and the value a `happened` gives), checked;
 * null for any other kind of request, which an outcome decision cannot answer.
 */
function _outcomeOf(
  r: HumanRequest,
  decision: HumanDecision,
): { decision: "happened"; value: unknown } | { decision: "retry" | "fail" } | null {
  const d = decision.decision;
  if (r.kind !== "outcome") {
    if (OUTCOME_DECISIONS.includes(d)) {
      throw libosError(
        "EINVAL",
        `Cannot answer ${r.kind} request '${r.id}' with '${d}': happened, retry and fail answer outcome requests`,
      );
    }
    if (decision.value !== undefined) {
      throw libosError(
        "EINVAL",
        `Cannot answer ${r.kind} request '${r.id}': 'value' belongs to an outcome answer 'happened'`,
      );
    }
    return null;
  }
  if (d !== "happened" && d !== "retry" && d !== "fail") {
    throw libosError(
      "EINVAL",
      `Cannot answer outcome request '${r.id}' with '${d}': expected happened, retry or fail`,
    );
  }
  if (d !== "happened") {
    if (decision.value !== undefined) {
      throw libosError(
        "EINVAL",
        `Cannot answer outcome request '${r.id}' with '${d}': only 'happened' takes a 'value'`,
      );
    }
    return { decision: d };
  }
  const value = decision.value ?? null;
  try {
    // The value becomes the call's journaled result: JSON, as the journal keeps it.
    canonicalJson(value);
    if (JSON.stringify(value) === undefined) throw new TypeError("not JSON");
  } catch (error) {
    throw libosError(
      "EINVAL",
      `Cannot answer outcome request '${r.id}': 'value' must be JSON (${
        error instanceof Error ? error.message : String(error)
      })`,
    );
  }
  return { decision: d, value: structuredClone(value) };
}

/** Expires a pending request whose time is up (its timer fired); the process wakes. */
export async function expireHumanRequest(k: Kernel, id: string): Promise<void> {
  const r = k.human.get(id);
  if (r === undefined || r.state !== "pending") return;
  const batch = new Batch();
  _expire(k, batch, r);
  await k.records.commit(batch);
}

/** Expires `r` in `batch`: stored, audited, its process woken. */
function _expire(k: Kernel, batch: Batch, r: HumanRequest): void {
  r.state = "expired";
  r.decidedAt = k.clock.now();
  k.records.saveHuman(batch, r);
  k.records.audit(batch, {
    actor: "kernel",
    action: "human.expired",
    pid: r.pid,
    detail: { request: r.id },
  });
  _wake(k, batch, r, null);
}

/** Audits an answer that lost the race to an earlier decision (or the expiry). */
function _late(k: Kernel, batch: Batch, r: HumanRequest, actor: string, decision: string): void {
  k.records.audit(batch, {
    actor,
    action: "human.late",
    pid: r.pid,
    decision: "deny",
    detail: { request: r.id, decision, state: r.state },
  });
}

/** Voids a pending request, in `batch`: what it rested on is gone (`why`). */
export function voidHumanRequest(k: Kernel, batch: Batch, id: string, why: string): void {
  const r = k.human.get(id);
  if (r === undefined || r.state !== "pending") return;
  r.state = "void";
  r.decidedAt = k.clock.now();
  r.answer = why;
  k.records.saveHuman(batch, r);
  k.records.audit(batch, {
    actor: "kernel",
    action: "human.void",
    pid: r.pid,
    capabilityId: r.grantId,
    detail: { request: r.id, reason: why },
  });
}

/** The process waiting on `r` becomes runnable. */
function _wake(k: Kernel, batch: Batch, r: HumanRequest, actor: string | null): void {
  const p = k.procs.find(r.pid);
  if (p?.state === "waiting" && p.wait?.kind === "human" && p.wait.requestId === r.id) {
    k.lifecycle.transition(batch, p, "runnable", {
      reason: null,
      ...(actor === null ? {} : { actor }),
    });
  }
}

function _idNum(id: string): number {
  const n = Number(id.slice(id.indexOf("_") + 1));
  return Number.isFinite(n) ? n : 0;
}
