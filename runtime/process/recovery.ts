/**
 * Recovery: the kernel's state loaded from the store at boot, processes
 * adopted from a dead or stopped kernel of the same store, and the one path
 * both take to resume processes after a crash, a clean restart or an
 * adoption (interrupted quanta run again, satisfied waits wake, timers and
 * human expiries are armed, due purges run).
 *
 * @module
 */
import { Batch } from "../engine/batch.ts";
import { previewDigest } from "../human/preview.ts";
import type { KernelCore } from "../kernel_core.ts";
import { purgeDue } from "../retention/retention.ts";
import type { ClaimedProcess, StoreSnapshot } from "../store/store.ts";
import type { Pid, ProcessRecord } from "../types.ts";
import { chargeLeftHolds } from "./model_reservation.ts";

/** How {@linkcode recoverProcesses} resumes a set of processes. */
export interface RecoverHow {
  /** This kernel's id (recorded with an adoption). */
  kernel: string;
  /** Whether the process was resumed from a crash (it counts a recovery). */
  crashed: (pid: Pid) => boolean;
  /** Adopted processes and the kernel each came from. */
  adoptedFrom?: ReadonlyMap<Pid, string | null>;
  /** Writes what opens the recovery's batch (the boot record). */
  begin?: (batch: Batch) => void;
}

/** Loads a boot snapshot into the kernel's tables (processes not resumed yet). */
export function loadSnapshot(k: KernelCore, snap: StoreSnapshot): void {
  // An image stored before retention existed kept everything.
  for (const r of snap.images) r.image.retention ??= "keep";
  k.images.load(snap.images);
  k.grants.load(snap.grants);
  k.objects.load(snap.objects);
  for (const r of snap.human) {
    // A request stored before digests were kept gets its digest now.
    if (
      (typeof r.previewSha256 !== "string" || r.previewSha256 === "") &&
      typeof r.preview === "string"
    ) {
      r.previewSha256 = previewDigest({ preview: r.preview, actionHash: r.actionHash });
    }
    k.human.set(r.id, r);
  }
  k.records.loadJournalHeads(snap.journalHeads);
  for (const p of snap.processes) _adopt(k, p);
}

/**
 * Resumes processes claimed from a dead or stopped kernel, as boot recovery
 * resumes them: their grants, human requests, objects, images and journal
 * heads are loaded from the store first.
 */
export async function adoptClaimed(
  k: KernelCore,
  claimed: readonly ClaimedProcess[],
  kernel: string,
): Promise<void> {
  const part = await k.store.load({ pids: claimed.map((c) => c.pid) });
  for (const r of part.images) r.image.retention ??= "keep";
  k.images.load(part.images.filter((r) => !k.images.has(r.id)));
  for (const g of part.grants) k.grants.put(g);
  for (const o of part.objects) {
    const known = k.objects.get(o.oid);
    if (known === undefined || known.version < o.version) {
      k.objects.delete(o.oid);
      k.objects.load([o]);
    }
  }
  for (const r of part.human) k.human.set(r.id, r);
  k.records.loadJournalHeads(part.journalHeads);
  const crashed = new Set(claimed.filter((c) => !c.clean).map((c) => c.pid));
  const procs: ProcessRecord[] = [];
  for (const p of part.processes) {
    _adopt(k, p);
    procs.push(p);
  }
  await recoverProcesses(k, procs, {
    kernel,
    crashed: (pid) => crashed.has(pid),
    adoptedFrom: new Map(claimed.map((c) => [c.pid, c.from])),
  });
}

/**
 * Resumes processes after a crash, a clean restart or their adoption from
 * another kernel: the one path of both.
 */
export async function recoverProcesses(
  k: KernelCore,
  procs: readonly ProcessRecord[],
  how: RecoverHow,
): Promise<void> {
  const { records, lifecycle } = k;
  // Every process may take a few audit seqs below, in one synchronous pass.
  await records.ensureIds("audit", procs.length * 4 + 16);
  const batch = new Batch();
  how.begin?.(batch);
  for (const p of procs) {
    const from = how.adoptedFrom?.get(p.pid);
    if (from === undefined) continue;
    records.audit(batch, {
      actor: "kernel:cluster",
      action: "process.adopted",
      pid: p.pid,
      detail: { from, kernel: how.kernel, state: p.state },
    });
    // Written once now, so the claim shows in the store even for a process
    // that does not move.
    records.saveProcess(batch, p);
  }
  // A model call in flight at the crash may have run and been billed: its
  // hold becomes spend (the call itself is made again).
  chargeLeftHolds(k, batch, procs);
  // The most suspected go first: a poison pill then fails again at once,
  // while an innocent process blamed for someone else's crash gets through
  // a step straight away and is cleared (at the back of the line it would
  // be the one running when the next random crash comes).
  const order = [...procs].sort((a, b) => b.recoveries - a.recoveries);
  for (const p of order) {
    if (how.crashed(p.pid) && (p.state === "running" || p.state === "runnable")) {
      // A first resume is counted for all at once (one commit, no
      // serialisation); a process resumed before and not through a step
      // since is a suspect: counted and run one at a time.
      if (p.recoveries === 0) {
        p.recoveries = 1;
        records.saveProcess(batch, p);
      } else k.procs.liveOf(p.pid).probation = true;
    }
    if (p.state === "running") {
      // Interrupted mid-quantum: its pending tool call re-runs from the
      // journal (completed syscalls answer from it).
      lifecycle.transition(batch, p, "runnable", { reason: null, actor: "kernel:recovery" });
    } else if (p.state === "runnable" || p.state === "created") {
      if (p.state === "created") {
        lifecycle.transition(batch, p, "runnable", { actor: "kernel:recovery" });
      } else batch.then(() => k.scheduler.enqueue(p.pid));
    } else if (p.state === "waiting" && p.wait !== null) {
      if (lifecycle.waitSatisfied(p)) {
        lifecycle.transition(batch, p, "runnable", { reason: null, actor: "kernel:recovery" });
      } else if (p.wait.kind === "timer") {
        const until = p.wait.until;
        batch.then(() => lifecycle.armTimer(p.pid, until));
      }
    }
  }
  const pids = new Set(procs.map((p) => p.pid));
  for (const r of k.human.values()) {
    if (r.state === "pending" && pids.has(r.pid)) lifecycle.armExpiry(r);
  }
  await records.commit(batch);
  // A process that ended before the crash but whose purge did not commit.
  for (const p of procs) if (purgeDue(p)) await lifecycle.purge(p.pid);
}

/** A record from the store joins the table (older records get today's fields). */
function _adopt(k: KernelCore, p: ProcessRecord): void {
  // A record stored before retention existed kept everything.
  p.retention ??= "keep";
  p.purgedAt ??= null;
  k.procs.add(p);
}
