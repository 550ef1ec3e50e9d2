/**
 * The control plane's event log: every kernel event of the kinds the API
 * streams (process state changes, human requests, audit appends) gets an id
 * and is kept in a bounded ring, so that a client reconnecting with
 * `Last-Event-ID` receives what it missed. Each event is encoded once, as the
 * server-sent-event frame every client receives.
 *
 * On a cluster (a shared store) the hub also streams the process state
 * changes and human requests of the other kernels' processes, from their
 * notices (runtime/cluster/notifier.ts): a process event when a notice
 * shows a state other than the last one this hub saw of the process (its
 * `from` is that last state, null when none was seen; `reason` is null —
 * read the process for it; `kernel` names the owner), and a human event with
 * the request as the store holds it when the notice arrives. Audit records
 * and model deltas stay the owning kernel's.
 *
 * Ids are `<boot>-<n>`: `boot` names this hub's lifetime, so an id from an
 * earlier server (or one older than the ring) is recognised as a gap, and the
 * client is told to reload instead of silently missing events.
 *
 * @module
 */
import type { ClusterNotice, Kernel, KernelEvent } from "../runtime/mod.ts";

/** How many other kernels' processes the hub remembers the last state of. */
const _REMOTE_STATES = 10_000;

/** The event types the API streams. */
export const EVENT_TYPES = ["process", "human", "audit", "model.delta"] as const;

/** One of {@linkcode EVENT_TYPES}. */
export type EventType = typeof EVENT_TYPES[number];

/** One numbered event. */
export interface HubEvent {
  /** Position in this hub's log, from 1. */
  n: number;
  type: EventType;
  /** The process the event is about, if any. */
  pid: string | null;
  /** The complete SSE frame (`id`, `event`, `data`, blank line). */
  frame: string;
}

/** Options of {@linkcode EventHub}. */
export interface EventHubOptions {
  /** How many events are kept for resuming (default 10,000). */
  capacity?: number;
}

/** What a reconnecting client is owed. */
export type Replay =
  | { kind: "events"; events: HubEvent[] }
  /** The id is from another boot or older than the ring: the client must reload. */
  | { kind: "gap" };

/** Numbers, encodes and fans out kernel events. */
export class EventHub implements Disposable {
  /** Names this hub's lifetime in event ids. */
  readonly boot: string = crypto.randomUUID().slice(0, 8);
  readonly #capacity: number;
  readonly #ring: HubEvent[] = [];
  readonly #listeners = new Set<(e: HubEvent) => void>();
  readonly #closers = new Set<() => void>();
  /** Who each counted listener belongs to, and how many each owner has. */
  readonly #ownerOf = new Map<(e: HubEvent) => void, string>();
  readonly #owned = new Map<string, number>();
  /** The owner listeners added now are counted for (see {@linkcode openAs}). */
  #opening: string | null = null;
  readonly #sub: Disposable;
  readonly #notices: Disposable | null = null;
  /** The last state seen of other kernels' processes, oldest first. */
  readonly #remote = new Map<string, string>();
  /** Remote events in the order their notices came (a human request is read first). */
  #remoteChain: Promise<void> = Promise.resolve();
  readonly #kernel: Kernel;
  #n = 0;
  #closed = false;

  constructor(kernel: Kernel, options: EventHubOptions = {}) {
    this.#capacity = options.capacity ?? 10_000;
    if (!Number.isInteger(this.#capacity) || this.#capacity < 1) {
      throw new RangeError("Cannot create an event hub: capacity must be a positive integer");
    }
    this.#kernel = kernel;
    this.#sub = kernel.subscribe((e) => this.#onKernelEvent(e));
    if (kernel.store.shared) this.#notices = kernel.onNotice((n) => this.#onNotice(n));
  }

  /** Another kernel's process state or human request, as a notice tells it. */
  #onNotice(n: ClusterNotice): void {
    const k = this.#kernel;
    if (this.#closed || n.kernel === k.kernelId) return;
    if (n.kind === "process") {
      const from = this.#remote.get(n.pid) ?? null;
      if (from === n.state) return;
      this.#remote.delete(n.pid);
      this.#remote.set(n.pid, n.state);
      if (this.#remote.size > _REMOTE_STATES) {
        this.#remote.delete(this.#remote.keys().next().value!);
      }
      this.#remoteChain = this.#remoteChain.then(() =>
        this.#emit("process", n.pid, {
          pid: n.pid,
          from,
          state: n.state,
          reason: null,
          kernel: n.kernel,
        })
      );
    } else if (n.kind === "human") {
      const read = k.store.readHumanRequests({ ids: [n.id] });
      this.#remoteChain = this.#remoteChain.then(async () => {
        const [request] = await read.catch(() => []);
        if (request !== undefined) this.#emit("human", request.pid, request);
      });
    }
  }

  /** The id of the newest event (`<boot>-0` before any). */
  get lastId(): string {
    return `${this.boot}-${this.#n}`;
  }

  /** Whether {@linkcode close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  #onKernelEvent(e: KernelEvent): void {
    let type: EventType;
    let pid: string | null;
    let data: unknown;
    switch (e.type) {
      case "process":
        type = "process";
        pid = e.pid;
        data = { pid: e.pid, from: e.from, state: e.state, reason: e.reason };
        break;
      case "human":
        type = "human";
        pid = e.request.pid;
        data = e.request;
        break;
      case "audit":
        type = "audit";
        pid = e.pid;
        data = { seq: e.seq, action: e.action, pid: e.pid, decision: e.decision };
        break;
      case "model.delta":
        // Streamed model text as it arrives (the journal keeps the final response).
        type = "model.delta";
        pid = e.pid;
        data = { pid: e.pid, turn: e.turn, text: e.text };
        break;
      default:
        return;
    }
    this.#emit(type, pid, data);
  }

  #emit(type: EventType, pid: string | null, data: unknown): void {
    if (this.#closed) return;
    const n = ++this.#n;
    const event: HubEvent = {
      n,
      type,
      pid,
      frame: `id: ${this.boot}-${n}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`,
    };
    this.#ring.push(event);
    if (this.#ring.length > this.#capacity) this.#ring.shift();
    for (const l of this.#listeners) l(event);
  }

  /** What a client that last saw `lastEventId` missed. */
  since(lastEventId: string): Replay {
    const m = /^([0-9a-f]{8})-(\d{1,15})$/.exec(lastEventId.trim());
    if (m === null || m[1] !== this.boot) return { kind: "gap" };
    const seen = Number(m[2]);
    if (seen > this.#n) return { kind: "gap" };
    const oldest = this.#ring[0]?.n ?? this.#n + 1;
    if (seen < oldest - 1) return { kind: "gap" };
    return { kind: "events", events: this.#ring.filter((e) => e.n > seen) };
  }

  /**
   * Listens to new events; `onClose` runs when the hub closes. Dispose the
   * result to stop listening.
   */
  listen(listener: (e: HubEvent) => void, onClose: () => void): Disposable {
    if (this.#closed) throw new TypeError("Cannot listen: the event hub is closed");
    if (this.#listeners.has(listener)) {
      throw new TypeError("Cannot listen: this listener is already listening");
    }
    this.#listeners.add(listener);
    this.#closers.add(onClose);
    const owner = this.#opening;
    if (owner !== null) {
      this.#ownerOf.set(listener, owner);
      this.#owned.set(owner, (this.#owned.get(owner) ?? 0) + 1);
    }
    return {
      [Symbol.dispose]: () => {
        if (!this.#listeners.delete(listener)) return;
        this.#closers.delete(onClose);
        this.#release(listener);
      },
    };
  }

  #release(listener: (e: HubEvent) => void): void {
    const owner = this.#ownerOf.get(listener);
    if (owner === undefined) return;
    this.#ownerOf.delete(listener);
    const left = (this.#owned.get(owner) ?? 1) - 1;
    if (left === 0) this.#owned.delete(owner);
    else this.#owned.set(owner, left);
  }

  /**
   * Calls `open` (which starts streams, each calling {@linkcode listen}
   * before it returns) with every listener it adds counted for `owner`, the
   * token it is opened for, until that listener is disposed.
   */
  openAs<T>(owner: string, open: () => T): T {
    const previous = this.#opening;
    this.#opening = owner;
    try {
      return open();
    } finally {
      this.#opening = previous;
    }
  }

  /** Number of live listeners (open streams). */
  get listeners(): number {
    return this.#listeners.size;
  }

  /** Number of live listeners opened for `owner` (see {@linkcode openAs}). */
  listenersOf(owner: string): number {
    return this.#owned.get(owner) ?? 0;
  }

  /** Stops listening to the kernel and ends every open stream. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#sub[Symbol.dispose]();
    this.#notices?.[Symbol.dispose]();
    const closers = [...this.#closers];
    this.#listeners.clear();
    this.#closers.clear();
    this.#ownerOf.clear();
    this.#owned.clear();
    for (const c of closers) c();
  }

  /** Same as close(). */
  [Symbol.dispose](): void {
    this.close();
  }
}
