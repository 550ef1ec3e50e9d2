/**
 * The scheduler: a FIFO run queue of runnable processes served round-robin by
 * at most `concurrency` concurrent quanta. A quantum is one step of one
 * process; a process that is still runnable afterwards goes to the back of
 * the queue, so none starves. Waiting processes are not in the queue at all.
 *
 * @module
 */
import type { Pid } from "../types.ts";

/** Options of {@linkcode Scheduler}. */
export interface SchedulerOptions {
  /** Quanta running at once. */
  concurrency: number;
  /** Runs one quantum of a process. */
  run(pid: Pid): Promise<void>;
  /** Called when a quantum throws (a kernel bug). */
  onError(pid: Pid, error: unknown): void;
}

/** The round-robin run queue. */
export class Scheduler {
  readonly concurrency: number;
  #run: (pid: Pid) => Promise<void>;
  #onError: (pid: Pid, error: unknown) => void;
  #queue: Pid[] = [];
  #head = 0;
  #queued = new Set<Pid>();
  #active = new Map<Pid, Promise<void>>();
  #started = false;
  #stopped = false;
  #idle: (() => void)[] = [];
  /** Quanta run so far. */
  quanta = 0;

  constructor(options: SchedulerOptions) {
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
      throw new RangeError(
        `Cannot create a scheduler: concurrency must be a positive integer, got ${options.concurrency}`,
      );
    }
    this.concurrency = options.concurrency;
    this.#run = options.run;
    this.#onError = options.onError;
  }

  /** Starts serving the queue. */
  start(): void {
    if (this.#stopped) return;
    this.#started = true;
    this.#pump();
  }

  /** Puts a process at the back of the queue (once). */
  enqueue(pid: Pid): void {
    if (this.#queued.has(pid) || this.#stopped) return;
    this.#queued.add(pid);
    this.#queue.push(pid);
    this.#pump();
  }

  /** Processes waiting in the queue. */
  get queued(): number {
    return this.#queue.length - this.#head;
  }

  /** Quanta running now. */
  get running(): number {
    return this.#active.size;
  }

  /** Resolves when the process's running quantum (if any) has finished. */
  quantumOf(pid: Pid): Promise<void> {
    return this.#active.get(pid) ?? Promise.resolve();
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Stops taking new quanta and waits for the running ones. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.allSettled([...this.#active.values()]);
    this.#notifyIdle(true);
  }

  #isIdle(): boolean {
    return this.#active.size === 0 && (this.queued === 0 || this.#stopped || !this.#started);
  }

  #pump(): void {
    if (!this.#started || this.#stopped) return;
    while (this.#active.size < this.concurrency && this.#head < this.#queue.length) {
      const pid = this.#queue[this.#head++] as Pid;
      this.#queued.delete(pid);
      if (this.#active.has(pid)) {
        // Still finishing its previous quantum: run it again afterwards.
        void this.#active.get(pid)!.then(() => this.enqueue(pid));
        continue;
      }
      this.quanta++;
      const done = this.#run(pid)
        .catch((error) => this.#onError(pid, error))
        .finally(() => {
          this.#active.delete(pid);
          this.#pump();
          this.#notifyIdle(false);
        });
      this.#active.set(pid, done);
    }
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  #notifyIdle(force: boolean): void {
    if (!force && !this.#isIdle()) return;
    for (const resolve of this.#idle.splice(0)) resolve();
  }
}
