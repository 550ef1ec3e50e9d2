/**
 * A kernel's membership of a cluster: it heartbeats its lease every third of
 * the lease's TTL; on each beat it declares dead the kernels whose lease has
 * expired (by the database's clock) and claims, chunk by chunk, the
 * processes of dead and stopped kernels, handing each chunk to the kernel to
 * resume. A lost lease (`EFENCED` on the heartbeat) ends the membership.
 *
 * @module
 */
import { hasCode } from "../errors.ts";
import type { ClaimedProcess, Fence, Store } from "../store/store.ts";

/** Options of {@linkcode ClusterMembership}. */
export interface ClusterMembershipOptions {
  /** The lease's TTL in ms; the heartbeat runs every third of it. */
  ttlMs: number;
  /** Processes claimed per transaction (default 256). */
  chunk?: number;
  /** Resumes claimed processes (awaited before the next chunk is claimed). */
  adopt: (claimed: ClaimedProcess[]) => Promise<void>;
  /** The lease is lost: the kernel must stop its processes. */
  fenced: (error: unknown) => void;
  /** Anything else that went wrong in a beat (logged; the next beat tries again). */
  failed: (error: unknown) => void;
}

/** The loop that keeps a kernel's lease and adopts the processes of dead kernels. */
export class ClusterMembership {
  readonly #store: Store;
  readonly #fence: Fence;
  readonly #options: ClusterMembershipOptions;
  #state: "idle" | "running" | "stopped" = "idle";
  #timer: ReturnType<typeof setTimeout> | null = null;
  #beat: Promise<void> = Promise.resolve();

  constructor(store: Store, fence: Fence, options: ClusterMembershipOptions) {
    this.#store = store;
    this.#fence = fence;
    this.#options = options;
  }

  /** Starts beating (the first beat at once). */
  start(): void {
    if (this.#state !== "idle") return;
    this.#state = "running";
    this.#schedule(0);
  }

  /** Stops the loop and waits for a beat in flight. */
  async stop(): Promise<void> {
    this.#state = "stopped";
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#beat;
  }

  /**
   * Claims every process of a dead or stopped kernel that another kernel has
   * not claimed first, chunk by chunk, adopting each chunk. At most
   * `maxChunks` chunks (default: enough for a million processes).
   */
  async claimAll(maxChunks = 4096): Promise<number> {
    const limit = this.#options.chunk ?? 256;
    let total = 0;
    for (let i = 0; i < maxChunks && this.#state !== "stopped"; i++) {
      const claimed = await this.#store.claimProcesses(this.#fence, { limit });
      if (claimed.length === 0) break;
      total += claimed.length;
      try {
        await this.#options.adopt(claimed);
      } catch (error) {
        // Claimed but not resumed: stop heartbeating, so that the lease
        // lapses and another kernel adopts them (and this one's others).
        this.#state = "stopped";
        throw error;
      }
    }
    return total;
  }

  #schedule(delayMs: number): void {
    if (this.#state !== "running") return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#beat = this.#runBeat().finally(() => this.#schedule(this.#options.ttlMs / 3));
    }, delayMs);
  }

  async #runBeat(): Promise<void> {
    try {
      await this.#store.heartbeat(this.#fence);
      const view = await this.#store.listKernels();
      let orphans = false;
      for (const k of view.kernels) {
        if (k.id === this.#fence.kernel) continue;
        if (k.state === "alive" && k.leaseExpiresAt < view.now) {
          if (await this.#store.declareDead(k.id, k.epoch)) orphans = true;
        } else if (k.state !== "alive" && k.processes > 0) orphans = true;
      }
      if (orphans) await this.claimAll();
    } catch (error) {
      if (hasCode(error, "EFENCED")) {
        this.#state = "stopped";
        this.#options.fenced(error);
      } else this.#options.failed(error);
    }
  }
}
