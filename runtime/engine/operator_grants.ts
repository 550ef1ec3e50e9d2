/**
 * The operator's grant and revoke: a grant issued to a process within the
 * actor's ceiling, and a revocation that takes the grant's whole lineage
 * with it and voids the pending approvals that relied on any of it.
 *
 * @module
 */
import { issueGrant, validateGrantSpec } from "../capability/capability.ts";
import { libosError } from "../errors.ts";
import { voidHumanRequest } from "../human/human_queue.ts";
import { type GrantSpec, GrantSpecSchema } from "../images/schemas.ts";
import type { KernelCore } from "../kernel_core.ts";
import { isTerminal } from "../process/lifecycle.ts";
import type { Actor } from "../process/requests.ts";
import type { Grant, Pid } from "../types.ts";
import { Batch } from "./batch.ts";
import { withinCeiling } from "./ceiling_guard.ts";

/** Grants a capability to a process as an operator (within the actor's ceiling). */
export async function grantTo(
  k: KernelCore,
  pid: Pid,
  spec: GrantSpec,
  options: Actor,
): Promise<Grant> {
  const p = k.procs.get(pid);
  if (isTerminal(p.state)) {
    throw libosError("ESTATE", `Cannot grant to process ${pid}: it is ${p.state}`, { pid });
  }
  const parsed = GrantSpecSchema.safeParse(spec);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw libosError(
      "EINVAL",
      `Cannot grant to ${pid}: ${issue?.path.join(".")}: ${issue?.message}`,
    );
  }
  const valid = validateGrantSpec(parsed.data, k.clock.now());
  await withinCeiling(k, [valid], { ...options, what: `grant to ${pid}` });
  const batch = new Batch();
  const g = issueGrant(valid, {
    subject: pid,
    issuedBy: options.actor,
    now: k.clock.now(),
    nextId: () => k.records.nextId("grant", "g_", batch),
  });
  k.records.saveGrant(batch, g);
  k.records.audit(batch, {
    actor: options.actor,
    action: "cap.grant",
    pid,
    resource: g.resource,
    capabilityId: g.id,
    detail: { rights: g.rights, effect: g.effect, uses: g.uses, expiresAt: g.expiresAt },
  });
  await k.records.commit(batch);
  return { ...g };
}

/**
 * Revokes a grant and every grant derived from it; pending approvals that
 * relied on any of them are voided.
 */
export async function revokeGrant(
  k: KernelCore,
  grantId: string,
  options: Actor,
): Promise<Grant[]> {
  const root = k.grants.get(grantId);
  if (root === undefined) {
    throw libosError("ENOENT", `Cannot revoke grant '${grantId}': no such grant`);
  }
  const source = root.parentId === null ? undefined : k.grants.get(root.parentId);
  if (root.effect !== "allow" && source !== undefined && source.effect === root.effect) {
    // A copy of the parent's deny or ask carried into a child: revoking it
    // alone would make the child more permissive than its parent.
    throw libosError(
      "EPERM",
      `Cannot revoke grant '${grantId}': it carries ${source.subject}'s ${root.effect} grant ${source.id} to ${root.subject}; revoke ${source.id} instead`,
      { resource: root.resource },
    );
  }
  const batch = new Batch();
  const revoked: Grant[] = [];
  for (const g of k.grants.lineageOf(grantId)) {
    if (g.revoked) continue;
    g.revoked = true;
    k.records.saveGrant(batch, g);
    revoked.push({ ...g });
    k.records.audit(batch, {
      actor: options.actor,
      action: "cap.revoke",
      pid: g.subject,
      resource: g.resource,
      capabilityId: g.id,
      detail: { cause: g.id === grantId ? null : grantId },
    });
    for (const r of k.human.values()) {
      if (r.state === "pending" && r.grantId === g.id) {
        voidHumanRequest(k, batch, r.id, `grant ${g.id} was revoked`);
        const proc = k.procs.find(r.pid);
        if (
          proc?.state === "waiting" && proc.wait?.kind === "human" && proc.wait.requestId === r.id
        ) {
          k.lifecycle.transition(batch, proc, "runnable", { reason: null, actor: options.actor });
        }
      }
    }
  }
  await k.records.commit(batch);
  return revoked;
}
