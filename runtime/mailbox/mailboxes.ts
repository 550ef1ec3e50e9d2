/**
 * The kernel's side of the mailboxes (see runtime/primitives/mbox.ts): the
 * claim of a message through the store, which processes wait on which
 * channel, and their wake-ups.
 *
 * The store decides a claim (a `message.claim` batch that fails `EBUSY` when
 * another receive call holds the message), so two receivers — on one kernel
 * or on two kernels sharing a PostgreSQL store — never take one message. A
 * claim is committed before the receive's result; a crash between the two
 * finds the claim again by its key (the receiving pid and its call), so the
 * replayed receive returns the same message.
 *
 * Wake-ups: a send wakes the waiters of its channel on this kernel once its
 * batch is durable ({@linkcode Mailboxes.stored}). A message stored by
 * another kernel reaches a waiter through {@linkcode Mailboxes.stored} called
 * from outside (e.g. a LISTEN/NOTIFY bridge: `Kernel.onMessageStored`), or
 * through the poll (`pollMs`), which looks at the store while receivers wait.
 * A receive that found nothing is "watching" its channel until its park
 * commits: a message stored in between wakes it at once (no lost wake-up).
 *
 * Memory: one entry per waiting or watching process, none per message.
 *
 * @module
 */
import { hasCode } from "../errors.ts";
import type { Store } from "../store/store.ts";
import type { Clock } from "../substrate/clock.ts";
import type { MessageRecord, Pid } from "../types.ts";

/** Options of {@linkcode Mailboxes}. */
export interface MailboxesOptions {
  store: Store;
  clock: Clock;
  /** Wakes a waiting receiver (its receive runs again). */
  wake: (pid: Pid) => void;
  /**
   * How often to look in the store for messages stored by other kernels while
   * receivers wait, in ms; null (the default of a single kernel): never.
   */
  pollMs?: number | null;
}

/** How many candidates a claim reads at a time, and how many reads it makes. */
const _BATCH = 8;
const _ROUNDS = 4;
/** The most channels one poll looks at. */
const _POLL_CHANNELS = 1024;

/** Mailbox state of one kernel (see the module doc). */
export class Mailboxes {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #wake: (pid: Pid) => void;
  readonly #pollMs: number | null;
  /** Parked receivers, by channel. */
  #waiters = new Map<string, Set<Pid>>();
  /** Receivers between finding nothing and parking, by channel. */
  #watching = new Map<string, Set<Pid>>();
  /** Watching receivers whose channel got a message meanwhile. */
  #missed = new Set<Pid>();
  #channelOf = new Map<Pid, string>();
  #poll: Disposable | null = null;
  #closed = false;

  constructor(options: MailboxesOptions) {
    this.#store = options.store;
    this.#clock = options.clock;
    this.#wake = options.wake;
    const pollMs = options.pollMs ?? null;
    if (pollMs !== null && !(Number.isSafeInteger(pollMs) && pollMs > 0)) {
      throw new RangeError(`mailboxPollMs must be a positive integer or null, got ${pollMs}`);
    }
    this.#pollMs = pollMs;
  }

  /**
   * Claims the oldest unclaimed message of `channel` for the receive call
   * (`pid`, `key`), or answers the one that call claimed before a crash; null
   * when there is none. With null the receiver watches the channel until
   * {@linkcode park} or {@linkcode forget}. A store failure other than a lost
   * race throws.
   */
  async claim(channel: string, pid: Pid, key: string): Promise<MessageRecord | null> {
    this.forget(pid);
    _add(this.#watching, channel, pid);
    this.#channelOf.set(pid, channel);
    const mine = await this.#store.claimedMessage(pid, key);
    if (mine !== null) {
      this.forget(pid);
      return mine;
    }
    for (let round = 0; round < _ROUNDS; round++) {
      const next = await this.#store.nextMessages(channel, _BATCH);
      if (next.length === 0) return null;
      for (const m of next) {
        const at = this.#clock.now();
        try {
          await this.#store.apply([{ kind: "message.claim", id: m.id, pid, key, at }]);
        } catch (error) {
          if (hasCode(error, "EBUSY")) continue;
          throw error;
        }
        this.forget(pid);
        return { ...m, claimedBy: pid, claimKey: key, claimedAt: at };
      }
    }
    // Lost every race: the process parks, and the next message wakes it.
    return null;
  }

  /**
   * A receiver's park committed: it waits on `channel`, unless a message
   * came while it was watching (then it wakes at once).
   */
  park(channel: string, pid: Pid): void {
    _remove(this.#watching, channel, pid);
    if (this.#missed.delete(pid)) {
      this.#channelOf.delete(pid);
      this.#wake(pid);
      return;
    }
    _add(this.#waiters, channel, pid);
    this.#channelOf.set(pid, channel);
    this.#armPoll();
  }

  /** A message on `channel` is durable: its waiters on this kernel wake. */
  stored(channel: string): void {
    for (const pid of this.#watching.get(channel) ?? []) this.#missed.add(pid);
    const waiters = this.#waiters.get(channel);
    if (waiters === undefined) return;
    this.#waiters.delete(channel);
    for (const pid of waiters) {
      this.#channelOf.delete(pid);
      this.#wake(pid);
    }
  }

  /** Stops tracking a process (it woke otherwise, or ended). */
  forget(pid: Pid): void {
    const channel = this.#channelOf.get(pid);
    if (channel === undefined) return;
    this.#channelOf.delete(pid);
    _remove(this.#waiters, channel, pid);
    _remove(this.#watching, channel, pid);
    this.#missed.delete(pid);
  }

  /** Processes parked on a channel (for tests and views). */
  waiting(channel: string): Pid[] {
    return [...this.#waiters.get(channel) ?? []];
  }

  /** Stops the poll. */
  close(): void {
    this.#closed = true;
    this.#poll?.[Symbol.dispose]();
    this.#poll = null;
  }

  #armPoll(): void {
    if (this.#pollMs === null || this.#poll !== null || this.#closed) return;
    if (this.#waiters.size === 0) return;
    this.#poll = this.#clock.setTimer(this.#clock.now() + this.#pollMs, () => {
      void this.#pollOnce().finally(() => {
        this.#poll = null;
        this.#armPoll();
      });
    });
  }

  async #pollOnce(): Promise<void> {
    const channels = [...this.#waiters.keys()].slice(0, _POLL_CHANNELS);
    for (const channel of channels) {
      if (this.#closed) return;
      try {
        const next = await this.#store.nextMessages(channel, 1);
        if (next.length > 0) this.stored(channel);
      } catch {
        // A store that cannot be read now: the next poll looks again.
      }
    }
  }
}

function _add(map: Map<string, Set<Pid>>, channel: string, pid: Pid): void {
  let set = map.get(channel);
  if (set === undefined) {
    set = new Set();
    map.set(channel, set);
  }
  set.add(pid);
}

function _remove(map: Map<string, Set<Pid>>, channel: string, pid: Pid): void {
  const set = map.get(channel);
  if (set === undefined) return;
  set.delete(pid);
  if (set.size === 0) map.delete(channel);
}
