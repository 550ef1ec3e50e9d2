/**
 * The clock substrate provider (DESIGN §2, "Substrate"): the kernel reads the
 * time and waits only through a {@linkcode Clock}, so that tests run on
 * {@linkcode FakeClock} time instead of sleeping.
 *
 * @module
 */

/** Options of {@linkcode Clock.sleep}. */
export interface SleepOptions {
  /** Aborts the sleep: it rejects with the signal's reason. Default: none. */
  signal?: AbortSignal;
}

/** A source of time and timers. Times are epoch milliseconds (for a fake clock, its own). */
export interface Clock {
  /** The current time. */
  now(): number;
  /**
   * Resolves after `ms` milliseconds (finite, ≥ 0; otherwise a `RangeError`),
   * or rejects with `signal.reason` once the signal aborts.
   */
  sleep(ms: number, options?: SleepOptions): Promise<void>;
  /**
   * Calls `callback` once, at time `at` or as soon after it as the clock can
   * (at once for a past time). Disposing the handle cancels the timer; it is
   * idempotent and harmless after the timer fired. An `at` of `Infinity` never
   * fires; `NaN` is a `RangeError`.
   */
  setTimer(at: number, callback: () => void): Disposable;
}

/** The longest delay `setTimeout` takes before it overflows and fires at once. */
const _MAX_DELAY = 2 ** 31 - 1;

/** The host's clock: `Date.now()` and `setTimeout`, re-armed for delays past ~24.8 days. */
export const systemClock: Clock = {
  now(): number {
    return Date.now();
  },

  sleep(ms: number, options: SleepOptions = {}): Promise<void> {
    return _sleepWith(systemClock, ms, options);
  },

  setTimer(at: number, callback: () => void): Disposable {
    _checkAt(at);
    let id: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      const delay = at - Date.now();
      if (delay > _MAX_DELAY) {
        id = setTimeout(arm, _MAX_DELAY);
      } else {
        id = setTimeout(() => {
          id = undefined;
          callback();
        }, Math.max(0, delay));
      }
    };
    if (at !== Infinity) arm();
    return {
      [Symbol.dispose]() {
        if (id !== undefined) clearTimeout(id);
        id = undefined;
      },
    };
  },
};

/** One timer of a {@linkcode FakeClock}. */
interface _FakeTimer {
  at: number;
  /** Orders timers due at the same time by when they were set. */
  order: number;
  callback: () => void;
}

/**
 * A clock whose time moves only when a test moves it. Timers fire inside
 * {@linkcode FakeClock.advance} in time order (ties in the order they were
 * set), each with `now()` at its own time; a timer that a callback sets fires
 * in the same advance if it is due by its end. A callback that throws stops the
 * advance at that timer's time and the error propagates.
 *
 * @example
 * ```ts
 * const clock = new FakeClock(1000);
 * const woke = clock.sleep(50);
 * clock.advance(50);
 * await woke; // clock.now() === 1050
 * ```
 */
export class FakeClock implements Clock {
  #now: number;
  /** Pending timers, soonest first. */
  #timers: _FakeTimer[] = [];
  #order = 0;

  /** Starts the clock at `start` (default 0). */
  constructor(start = 0) {
    if (!Number.isFinite(start)) throw new RangeError(`Cannot start a fake clock at ${start}`);
    this.#now = start;
  }

  /** The fake current time. */
  now(): number {
    return this.#now;
  }

  /** Timers (and sleeps) set and not yet fired or cancelled. */
  get pending(): number {
    return this.#timers.length;
  }

  /** Resolves once the clock is advanced by `ms`; `sleep(0)` resolves without an advance. */
  sleep(ms: number, options: SleepOptions = {}): Promise<void> {
    if (ms === 0 && options.signal?.aborted !== true) return Promise.resolve();
    return _sleepWith(this, ms, options);
  }

  /** Sets a timer; one due now or in the past fires at the next advance (`advance(0)` will do). */
  setTimer(at: number, callback: () => void): Disposable {
    _checkAt(at);
    if (at === Infinity) return { [Symbol.dispose]() {} };
    const timer: _FakeTimer = { at, order: this.#order++, callback };
    // Insert after every timer due at or before it: a stable order for ties.
    let index = this.#timers.length;
    while (index > 0 && this.#timers[index - 1]!.at > at) index--;
    this.#timers.splice(index, 0, timer);
    return {
      [Symbol.dispose]: () => {
        const index = this.#timers.indexOf(timer);
        if (index >= 0) this.#timers.splice(index, 1);
      },
    };
  }

  /** Moves time forward by `ms` (finite, ≥ 0), firing the timers due by then. */
  advance(ms: number): void {
    if (!(Number.isFinite(ms) && ms >= 0)) {
      throw new RangeError(`Cannot advance a fake clock by ${ms} ms: expected a finite ms ≥ 0`);
    }
    this.advanceTo(this.#now + ms);
  }

  /** Moves time forward to `time` (not before now), firing the timers due by then. */
  advanceTo(time: number): void {
    this.#checkTarget(time);
    for (let timer = this.#due(time); timer !== undefined; timer = this.#due(time)) {
      this.#now = Math.max(this.#now, timer.at);
      timer.callback();
    }
    this.#now = time;
  }

  /**
   * Like {@linkcode FakeClock.advance}, but lets pending promise callbacks run
   * (one event-loop turn) after each timer, so that code which wakes from a
   * sleep and sleeps again within the window is woken again in the same call.
   */
  async advanceAsync(ms: number): Promise<void> {
    if (!(Number.isFinite(ms) && ms >= 0)) {
      throw new RangeError(`Cannot advance a fake clock by ${ms} ms: expected a finite ms ≥ 0`);
    }
    const time = this.#now + ms;
    await _turn();
    for (let timer = this.#due(time); timer !== undefined; timer = this.#due(time)) {
      this.#now = Math.max(this.#now, timer.at);
      timer.callback();
      await _turn();
    }
    this.#now = time;
  }

  /** Removes and returns the next timer due by `time`. */
  #due(time: number): _FakeTimer | undefined {
    const next = this.#timers[0];
    if (next === undefined || next.at > time) return undefined;
    this.#timers.shift();
    return next;
  }

  #checkTarget(time: number): void {
    if (!(Number.isFinite(time) && time >= this.#now)) {
      throw new RangeError(
        `Cannot advance a fake clock to ${time}: it is at ${this.#now} and only moves forward`,
      );
    }
  }
}

function _checkAt(at: number): void {
  if (typeof at !== "number" || Number.isNaN(at)) {
    throw new RangeError(`Cannot set a timer at ${String(at)}: expected a time in ms`);
  }
}

/** A sleep in terms of a clock's `now` and `setTimer`, with abort handling. */
function _sleepWith(clock: Clock, ms: number, options: SleepOptions): Promise<void> {
  const { signal } = options;
  if (!(typeof ms === "number" && Number.isFinite(ms) && ms >= 0)) {
    return Promise.reject(new RangeError(`Cannot sleep for ${ms} ms: expected a finite ms ≥ 0`));
  }
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      timer[Symbol.dispose]();
      reject(signal!.reason);
    };
    const timer = clock.setTimer(clock.now() + ms, () => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    });
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** One turn of the host's event loop: every promise callback queued so far runs. */
function _turn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
