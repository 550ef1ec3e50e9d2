/**
 * The kernel registry of a store that holds one kernel at a time (SQLite, the
 * memory store): kept in memory, since a kernel of a past boot is over by the
 * time the next one opens the store (the data directory's lock guarantees it).
 * Registering a kernel ends the one before; fences are checked as the shared
 * PostgreSQL registry checks them, so the kernel has one code path.
 *
 * @module
 */
import { libosError } from "../errors.ts";
import type { ClusterView, Fence, KernelInfo, KernelRegistration } from "./store.ts";

type _Entry = Omit<KernelInfo, "leaseExpiresAt" | "liveProcesses" | "processes">;

/** The in-memory registry of a store that is not shared. */
export class LocalKernels {
  #kernels = new Map<string, _Entry>();

  /** Registers kernel `id` at epoch 1; the kernels before it are dead (or stay stopped). */
  register(id: string, registration: KernelRegistration, now: number): Fence {
    for (const k of this.#kernels.values()) {
      if (k.state === "alive") {
        k.state = "dead";
        k.epoch += 1;
      }
    }
    this.#kernels.set(id, {
      id,
      host: registration.host,
      pid: registration.pid,
      startedAt: now,
      heartbeatAt: now,
      ttlMs: registration.ttlMs,
      epoch: 1,
      state: "alive",
    });
    return { kernel: id, epoch: 1 };
  }

  /** Throws `EFENCED` unless the fence's kernel is alive at its epoch. */
  check(fence: Fence): void {
    const k = this.#kernels.get(fence.kernel);
    if (k === undefined || k.state !== "alive" || k.epoch !== fence.epoch) {
      throw fencedError(fence, k === undefined ? "it is not registered" : describe(k));
    }
  }

  /** Renews a lease (`EFENCED` when lost). */
  heartbeat(fence: Fence, now: number): void {
    this.check(fence);
    this.#kernels.get(fence.kernel)!.heartbeatAt = now;
  }

  /** Marks a kernel stopped. */
  stop(fence: Fence): void {
    this.check(fence);
    this.#kernels.get(fence.kernel)!.state = "stopped";
  }

  /** Declares a kernel dead if alive at `epoch`. */
  declareDead(id: string, epoch: number): boolean {
    const k = this.#kernels.get(id);
    if (k === undefined || k.state !== "alive" || k.epoch !== epoch) return false;
    k.state = "dead";
    k.epoch += 1;
    return true;
  }

  /** The registry; the alive kernel owns every process. */
  view(now: number, load: { live: number; all: number }): ClusterView {
    const kernels = [...this.#kernels.values()].map((k): KernelInfo => ({
      ...k,
      leaseExpiresAt: k.heartbeatAt + k.ttlMs,
      liveProcesses: k.state === "alive" ? load.live : 0,
      processes: k.state === "alive" ? load.all : 0,
    }));
    return { now, kernels };
  }
}

/** The `EFENCED` error of a write or heartbeat by a kernel whose lease is lost. */
export function fencedError(fence: Fence, why: string): Error {
  return libosError(
    "EFENCED",
    `Cannot write as kernel '${fence.kernel}' at epoch ${fence.epoch}: ${why}; its lease is lost`,
  );
}

function describe(k: _Entry): string {
  return k.state === "alive"
    ? `its epoch is ${k.epoch} now`
    : `it is ${k.state} (epoch ${k.epoch})`;
}
