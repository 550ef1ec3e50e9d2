/**
 * Kernel events: process state changes, human requests, audit appends. The
 * control plane streams them; tests and the CLI wait on them.
 *
 * @module
 */
import type { HumanRequest, Pid, ProcessState } from "./types.ts";
import { errorText, logLine } from "./human/preview.ts";

/** One kernel event. */
export type KernelEvent =
  | {
    type: "process";
    pid: Pid;
    from: ProcessState | null;
    state: ProcessState;
    reason: string | null;
  }
  | { type: "human"; request: HumanRequest }
  | { type: "audit"; seq: number; action: string; pid: Pid | null; decision: string | null }
  /** A streamed piece of a model turn (the journal records the final response). */
  | { type: "model.delta"; pid: Pid; turn: number; text: string };

/** A listener of kernel events. */
export type KernelListener = (event: KernelEvent) => void;

/** A small synchronous event bus; a throwing listener never breaks the kernel. */
export class EventBus {
  #listeners = new Set<KernelListener>();

  /** Subscribes; dispose the result to unsubscribe. */
  subscribe(listener: KernelListener): Disposable {
    this.#listeners.add(listener);
    return { [Symbol.dispose]: () => void this.#listeners.delete(listener) };
  }

  /** Delivers an event to every listener. */
  emit(event: KernelEvent): void {
    for (const l of this.#listeners) {
      try {
        l(event);
      } catch (error) {
        console.error(logLine(`libos: an event listener threw: ${errorText(error)}`));
      }
    }
  }

  /** Number of listeners. */
  get size(): number {
    return this.#listeners.size;
  }
}
