/**
 * Where a spawn runs in a cluster (docs/cluster.md "Placement"): on the live
 * kernel with the fewest live processes in the registry (`liveProcesses`),
 * this kernel when it is tied with the least loaded or is it. A store of one
 * kernel places every spawn here.
 *
 * @module
 */
import type { Kernel } from "../runtime/mod.ts";

/** The kernel a spawn through `kernel`'s API runs on: null for this one. */
export async function placeSpawn(kernel: Kernel): Promise<string | null> {
  if (!kernel.store.shared || kernel.store.forwarded === undefined) return null;
  const view = await kernel.store.listKernels();
  const live = view.kernels.filter((k) => k.state === "alive" && k.leaseExpiresAt > view.now);
  const self = live.find((k) => k.id === kernel.kernelId);
  if (self === undefined) return null;
  let best = self;
  for (const k of live) if (k.liveProcesses < best.liveProcesses) best = k;
  return best.id === self.id ? null : best.id;
}
