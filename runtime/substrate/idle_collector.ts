/**
 * Gives a kernel's memory back to the host once it goes quiet after work.
 *
 * A kernel that has just spawned or run many processes holds the garbage of
 * that work: V8's young generation grown to its cap, old-generation pages
 * the work promoted, and freed pages it keeps. V8's own memory reducer
 * returns them only some 10 s after the kernel is quiet (measured: 210 MiB
 * with 10,000 processes waiting, 146 MiB 10 s later). This collector runs
 * V8's memory-reducing collection (the "last resort" one: a full, compacting
 * GC that shrinks the young generation and releases empty pages) once the
 * kernel has had no event for {@linkcode IdleCollectorOptions.quietMs} and
 * its RSS has grown by {@linkcode IdleCollectorOptions.growthBytes} since
 * the last collection: 137 MiB in the same measurement, about 1 s after the
 * processes all wait.
 *
 * The collection stops the kernel for its length (about 110 ms with 10,000
 * processes), which is why it waits for quiet and for growth: a busy kernel
 * is never collected this way, and a quiet one only once per burst of work.
 * It needs V8's `gc` function (`--v8-flags=--expose-gc`, which `deno task
 * start` passes); without it the collector does nothing.
 *
 * @module
 */

/** Options of {@linkcode IdleCollector}. */
export interface IdleCollectorOptions {
  /** How long without a kernel event counts as quiet, in ms (default 1000). */
  quietMs?: number;
  /** RSS growth since the last collection that makes one worth its pause, in bytes (default 16 MiB). */
  growthBytes?: number;
  /** How often the collector looks, in ms (default 500). */
  everyMs?: number;
  /** The time, in ms (default `performance.now`). */
  now?: () => number;
  /** The process's RSS, in bytes (default `Deno.memoryUsage().rss`). */
  rss?: () => number;
  /** Runs the collection (default V8's `gc` in its memory-reducing form, when exposed; else none). */
  collect?: (() => void) | null;
}

/** Counters of an {@linkcode IdleCollector}. */
export interface IdleCollectorStats {
  /** Collections run. */
  collections: number;
  /** RSS before and after the last one, in bytes (0 before any). */
  lastBefore: number;
  lastAfter: number;
  /** Time the last one took, in ms. */
  lastMs: number;
}

type _Gc = (options?: { type?: string; execution?: string; flavor?: string }) => void;

/** V8's memory-reducing collection, when `--expose-gc` gave this process `gc`; else null. */
export function exposedCollect(): (() => void) | null {
  const gc = (globalThis as { gc?: _Gc }).gc;
  if (typeof gc !== "function") return null;
  return () => gc({ type: "major", execution: "sync", flavor: "last-resort" });
}

/** Collects once the kernel is quiet after work; see the module doc. */
export class IdleCollector {
  readonly #quietMs: number;
  readonly #growth: number;
  readonly #everyMs: number;
  readonly #now: () => number;
  readonly #rss: () => number;
  readonly #collect: (() => void) | null;
  #lastEvent: number;
  /** RSS right after the last collection (or at start). */
  #baseline: number;
  #timer: number | null = null;
  readonly stats: IdleCollectorStats = { collections: 0, lastBefore: 0, lastAfter: 0, lastMs: 0 };

  constructor(options: IdleCollectorOptions = {}) {
    this.#quietMs = options.quietMs ?? 1000;
    this.#growth = options.growthBytes ?? 16 * 2 ** 20;
    this.#everyMs = options.everyMs ?? 500;
    this.#now = options.now ?? (() => performance.now());
    this.#rss = options.rss ?? (() => Deno.memoryUsage().rss);
    this.#collect = options.collect === undefined ? exposedCollect() : options.collect;
    this.#lastEvent = this.#now();
    this.#baseline = this.#rss();
  }

  /** Whether it can collect at all (V8's `gc` is there). */
  get enabled(): boolean {
    return this.#collect !== null;
  }

  /** Tells it the kernel did something (a kernel event). */
  activity(): void {
    this.#lastEvent = this.#now();
  }

  /** Looks once: collects when quiet long enough and grown enough. True when it collected. */
  tick(): boolean {
    if (this.#collect === null) return false;
    const now = this.#now();
    if (now - this.#lastEvent < this.#quietMs) return false;
    const before = this.#rss();
    // Shrunk by itself (V8's reducer ran): that is the new floor.
    if (before < this.#baseline) this.#baseline = before;
    if (before - this.#baseline < this.#growth) return false;
    const t0 = this.#now();
    this.#collect();
    const after = this.#rss();
    this.stats.collections++;
    this.stats.lastBefore = before;
    this.stats.lastAfter = after;
    this.stats.lastMs = this.#now() - t0;
    this.#baseline = after;
    return true;
  }

  /** Looks every `everyMs` on a timer that does not keep the process alive; idempotent. */
  start(): void {
    if (this.#timer !== null || this.#collect === null) return;
    const timer = setInterval(() => this.tick(), this.#everyMs) as unknown as number;
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /** Stops looking. */
  [Symbol.dispose](): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }
}
