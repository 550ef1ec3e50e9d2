/**
 * The actor's ceiling at the kernel's operator doors (grant, spawn, fork,
 * register an image, fork or import a checkpoint): grants above it are
 * refused, and the refusal is audited.
 *
 * @module
 */
import { checkCeiling, describeCeiling } from "../capability/ceiling.ts";
import { LibosError } from "../errors.ts";
import type { GrantSpec } from "../images/schemas.ts";
import type { Actor } from "../process/requests.ts";
import type { Clock } from "../substrate/clock.ts";
import { Batch } from "./batch.ts";
import type { Records } from "./records.ts";

/**
 * Refuses (EPERM, audited as `authority.refuse` with the actor) grants
 * above the actor's ceiling; nothing else changes.
 */
export async function withinCeiling(
  deps: { records: Records; clock: Clock },
  specs: readonly GrantSpec[],
  who: Actor & { what: string },
): Promise<void> {
  const what = who.what;
  try {
    checkCeiling(specs, who.ceiling, { what, now: deps.clock.now() });
  } catch (error) {
    if (!(error instanceof LibosError) || error.code !== "EPERM") throw error;
    const batch = new Batch();
    deps.records.audit(batch, {
      actor: who.actor,
      action: "authority.refuse",
      resource: typeof error.fields["resource"] === "string" ? error.fields["resource"] : null,
      decision: "deny",
      detail: { what, ceiling: describeCeiling(who.ceiling ?? null) },
    });
    await deps.records.commit(batch);
    throw error;
  }
}
