/**
 * Agent libOS for Deno: a runtime in which LLM agents live as long-running
 * processes under an operating-system discipline — scheduled, holding
 * explicit capabilities, pausing for a human's judgement, journaled for exact
 * recovery, and audited in a tamper-evident log.
 *
 * @example
 * ```ts
 * import { createKernel } from "./mod.ts";
 * await using kernel = await createKernel();
 * const p = await kernel.spawn({
 *   image: {
 *     id: "hi", name: "Hi", version: "1",
 *     model: { provider: "scripted", steps: [{ tool: "exit", args: { result: { ok: true } } }] },
 *     tools: ["exit"],
 *   },
 *   goal: "finish at once",
 * });
 * console.log((await kernel.wait(p.pid)).state); // "exited"
 * ```
 *
 * @module
 */
import { Kernel, type KernelOptions } from "./runtime/mod.ts";

export * from "./runtime/mod.ts";

/** Boots a kernel (in memory unless a store and filesystem are given). */
export function createKernel(options: KernelOptions = {}): Promise<Kernel> {
  return Kernel.create(options);
}
