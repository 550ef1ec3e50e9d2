/**
 * Ids handed out synchronously from blocks the store reserved durably
 * (`Store.reserveIds`): no two kernels on one store ever give the same id,
 * and a kernel never waits on the store for one. A block is refilled in the
 * background once half of it is used; the next block is taken when the
 * current one runs out. A clean shutdown gives the unused tail back, so a
 * kernel alone on its store numbers its ids without gaps across restarts
 * (a crash leaves a gap, never a repeat).
 *
 * @module
 */
import { libosError } from "../errors.ts";
import type { Store } from "../store/store.ts";

/** Options of {@linkcode IdBlocks}. */
export interface IdBlocksOptions {
  /** Ids reserved at a time, per kind (default 1024). */
  blockSize?: number;
  /** Called when a background refill fails (the next `next` may then run dry). */
  onError?: (error: unknown) => void;
  /**
   * Restart each counter at its floor (`prime`'s `atLeast`), voiding blocks a
   * predecessor reserved but never used (default false): for a store held by
   * one kernel at a time, where the floors are the ids made durable. Ids then
   * stay gapless across a crash, as they were before the store allocated them.
   */
  reset?: boolean;
  /**
   * The store holds one kernel at a time (default false): after the first
   * block, ids are counted on here with no further reservation, so a burst
   * never runs dry (the ids given are recorded with the batches that use
   * them, and `reset` restarts from them at the next boot).
   */
  local?: boolean;
}

interface _Range {
  next: number;
  end: number;
}

interface _Kind {
  /** Reserved ranges, in order; the first is being used. */
  ranges: _Range[];
  refilling: Promise<void> | null;
}

/** Per-kind id blocks reserved from a store. */
export class IdBlocks {
  readonly #store: Store;
  readonly #blockSize: number;
  readonly #onError: (error: unknown) => void;
  readonly #reset: boolean;
  readonly #local: boolean;
  /** The last id given, per kind. */
  readonly given: Record<string, number> = {};
  #kinds = new Map<string, _Kind>();

  constructor(store: Store, options: IdBlocksOptions = {}) {
    const size = options.blockSize ?? 1024;
    if (!(Number.isSafeInteger(size) && size >= 2)) {
      throw new RangeError(`Cannot make id blocks: blockSize must be an integer >= 2, got ${size}`);
    }
    this.#store = store;
    this.#blockSize = size;
    this.#onError = options.onError ?? (() => {});
    this.#reset = options.reset ?? false;
    this.#local = options.local ?? false;
  }

  /** Reserves the first block of each kind, the counter first raised to `atLeast[kind]`. */
  async prime(
    kinds: readonly string[],
    atLeast: Readonly<Record<string, number>> = {},
  ): Promise<void> {
    await Promise.all(kinds.map(async (kind) => {
      if (this.#kinds.has(kind)) return;
      const floor = atLeast[kind];
      const first = await this.#store.reserveIds(
        kind,
        this.#blockSize,
        { atLeast: floor ?? 0, reset: this.#reset },
      );
      this.given[kind] ??= first - 1;
      this.#kinds.set(kind, {
        ranges: [{ next: first, end: first + this.#blockSize }],
        refilling: null,
      });
    }));
  }

  /**
   * The next id of a primed kind. Throws `EAGAIN`-like `ELIMIT` when both the
   * block and its refill ran out (more ids taken in one synchronous burst than
   * a block holds), a `TypeError` for a kind never primed.
   */
  next(kind: string): number {
    const k = this.#kinds.get(kind);
    if (k === undefined) {
      throw new TypeError(`Cannot take a '${kind}' id: that kind was not primed`);
    }
    while (k.ranges.length > 1 && k.ranges[0]!.next >= k.ranges[0]!.end) k.ranges.shift();
    const range = k.ranges[0]!;
    if (this.#local) {
      if (range.next >= range.end) range.end = range.next + this.#blockSize;
      const id = range.next++;
      this.given[kind] = id;
      return id;
    }
    if (range.next >= range.end) {
      throw libosError(
        "ELIMIT",
        `Cannot take a '${kind}' id: its block of ${this.#blockSize} ran out before the store ` +
          "reserved the next (retry)",
      );
    }
    const id = range.next++;
    this.given[kind] = id;
    if (k.refilling === null && this.#available(k) <= this.#blockSize / 2) {
      void this.#refill(kind, k, this.#blockSize).catch((error) => this.#onError(error));
    }
    return id;
  }

  /**
   * Resolves once at least `count` ids of a kind can be taken synchronously
   * (before a burst: the adoption of many processes audits each). A kind
   * never primed needs nothing.
   */
  async ensure(kind: string, count: number): Promise<void> {
    const k = this.#kinds.get(kind);
    if (k === undefined || this.#local) return;
    await k.refilling;
    if (this.#available(k) >= count) return;
    await this.#refill(kind, k, Math.max(count, this.#blockSize));
  }

  /** Whether `counts[kind]` ids of every kind can be taken now, synchronously. */
  has(counts: Readonly<Record<string, number>>): boolean {
    return this.#local || this.#short(counts) === undefined;
  }

  /**
   * Takes nothing; resolves once `counts[kind]` ids of every kind can be
   * taken at once. Another caller may take them first: use it as
   * `while (!ids.has(c)) await ids.ready(c);` and then take the ids with no
   * await in between, so a burst of callers each gets what it asked for.
   */
  async ready(counts: Readonly<Record<string, number>>): Promise<void> {
    for (let round = 0; round < 1_000; round++) {
      const short = this.#local ? undefined : this.#short(counts);
      if (short === undefined) return;
      await this.ensure(short[0], short[1]);
    }
    throw libosError("ELIMIT", "Cannot take ids: the store did not reserve enough in 1,000 rounds");
  }

  #short(counts: Readonly<Record<string, number>>): [string, number] | undefined {
    return Object.entries(counts).find(([kind, n]) => {
      const k = this.#kinds.get(kind);
      return k !== undefined && this.#available(k) < n;
    });
  }

  #refill(kind: string, k: _Kind, size: number): Promise<void> {
    const done = this.#store.reserveIds(kind, size).then((first) => {
      k.ranges.push({ next: first, end: first + size });
    }).finally(() => {
      if (k.refilling === done) k.refilling = null;
    });
    k.refilling = done;
    return done;
  }

  #available(k: _Kind): number {
    return k.ranges.reduce((n, r) => n + (r.end - r.next), 0);
  }

  /**
   * Waits for refills in flight, then gives every unused tail back (the
   * last block first, so that the one before's tail can follow it).
   */
  async release(): Promise<void> {
    await Promise.all([...this.#kinds.values()].map((k) => k.refilling?.catch(() => {})));
    for (const [kind, k] of this.#kinds) {
      for (const range of [...k.ranges].reverse()) {
        if (range.next < range.end) {
          await this.#store.releaseIds(kind, range.next, range.end);
          range.end = range.next;
        }
      }
    }
  }
}
