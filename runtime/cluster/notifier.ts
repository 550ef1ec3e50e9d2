/**
 * The cluster notifier: kernels sharing a store tell each other, after a
 * batch commits, what changed — a process's state, a human request created
 * or decided, a message stored on a channel, a forwarded command queued or
 * done — so that a receiver, a long poll or a forwarded command on another
 * kernel wakes at once instead of polling. A notice is a hint, never the
 * truth: whoever gets one re-reads the store (a lost notice costs latency,
 * not correctness; every waiter keeps a bounded fallback).
 *
 * One interface, two transports: {@linkcode LocalNotifier}, an in-process
 * bus (SQLite and memory stores: one kernel, or several kernels in one
 * process in tests), and {@linkcode PostgresNotifier}, LISTEN/NOTIFY on one
 * channel per schema (`libos.<schema>`, the store's `listenNotify`). The kernel receives a `Notifier`
 * (KernelOptions.notifier, or the store's own), publishes the notices of each
 * batch it commits, and ignores its own.
 *
 * @module
 */
import type { Pid } from "../types.ts";
import type { ListenNotify, Mutation, Store } from "../store/store.ts";

/** What changed, as another kernel needs to know it. */
export type ClusterNotice =
  | { kind: "process"; kernel: string; pid: Pid; state: string }
  | { kind: "human"; kernel: string; id: string; pid: Pid; state: string }
  | { kind: "message"; kernel: string; channel: string }
  /** A forwarded command was queued for `owner` (or for the owner of `pid`). */
  | { kind: "forwarded"; kernel: string; id: string; owner: string | null; pid: Pid | null }
  /** A forwarded command's result was written. */
  | { kind: "forwarded.done"; kernel: string; id: string };

/** A listener of notices. */
export type NoticeListener = (notice: ClusterNotice) => void;

/** Carries notices between the kernels of one store (see the module doc). */
export interface Notifier {
  /** Publishes notices (fire and forget; a failure is logged, never thrown). */
  publish(notices: readonly ClusterNotice[]): void;
  /** Listens to every notice, the publisher's own included. */
  subscribe(listener: NoticeListener): Disposable;
  /** Stops listening and publishing. Idempotent. */
  close(): Promise<void>;
}

/** An in-process bus: every subscriber of this object hears every notice. */
export class LocalNotifier implements Notifier {
  #listeners = new Set<NoticeListener>();

  publish(notices: readonly ClusterNotice[]): void {
    if (notices.length === 0) return;
    // Delivered after the publisher's turn, as a remote notice would be.
    queueMicrotask(() => {
      for (const n of notices) for (const l of [...this.#listeners]) _deliver(l, n);
    });
  }

  subscribe(listener: NoticeListener): Disposable {
    this.#listeners.add(listener);
    return { [Symbol.dispose]: () => void this.#listeners.delete(listener) };
  }

  close(): Promise<void> {
    this.#listeners.clear();
    return Promise.resolve();
  }
}

/** NOTIFY payloads stay under PostgreSQL's 8000-byte limit. */
const _MAX_PAYLOAD = 7000;

/**
 * LISTEN/NOTIFY on `libos.<schema>`: notices published in one turn go out as
 * one NOTIFY (a JSON array), split when large. PostgreSQL delivers a NOTIFY
 * when its transaction commits, in commit order, to every listener.
 */
export class PostgresNotifier implements Notifier {
  readonly channel: string;
  #client: ListenNotify;
  #listeners = new Set<NoticeListener>();
  #pending: ClusterNotice[] = [];
  #flushing = false;
  #listening: Promise<{ unlisten(): Promise<void> }> | null = null;
  #closed = false;

  private constructor(client: ListenNotify) {
    this.#client = client;
    this.channel = client.channel;
  }

  /** Starts listening on the store's channel; resolves once LISTEN is in place. */
  static async open(client: ListenNotify): Promise<PostgresNotifier> {
    const n = new PostgresNotifier(client);
    n.#listening = client.listen(n.channel, (payload) => n.#received(payload));
    await n.#listening;
    return n;
  }

  publish(notices: readonly ClusterNotice[]): void {
    if (this.#closed || notices.length === 0) return;
    this.#pending.push(...notices);
    if (this.#flushing) return;
    this.#flushing = true;
    queueMicrotask(() => void this.#flush());
  }

  subscribe(listener: NoticeListener): Disposable {
    this.#listeners.add(listener);
    return { [Symbol.dispose]: () => void this.#listeners.delete(listener) };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    const l = await this.#listening?.catch(() => null);
    await l?.unlisten().catch(() => {});
  }

  async #flush(): Promise<void> {
    try {
      while (this.#pending.length > 0 && !this.#closed) {
        const all = this.#pending.splice(0);
        for (const payload of _payloads(all)) {
          await this.#client.notify(this.channel, payload).catch((e) =>
            console.error(`libos: NOTIFY ${this.channel}: ${e instanceof Error ? e.message : e}`)
          );
        }
      }
    } finally {
      this.#flushing = false;
    }
  }

  #received(payload: string): void {
    let notices: unknown;
    try {
      notices = JSON.parse(payload);
    } catch {
      return; // not ours
    }
    if (!Array.isArray(notices)) return;
    for (const n of notices) {
      if (typeof n?.kind !== "string" || typeof n?.kernel !== "string") continue;
      for (const l of [...this.#listeners]) _deliver(l, n as ClusterNotice);
    }
  }
}

/** JSON arrays of notices, each under the payload limit. */
function _payloads(notices: readonly ClusterNotice[]): string[] {
  const out: string[] = [];
  let part: string[] = [];
  let size = 2;
  for (const n of notices) {
    const text = JSON.stringify(n);
    if (text.length + 1 > _MAX_PAYLOAD) continue; // a channel name that long: receivers poll
    if (size + text.length + 1 > _MAX_PAYLOAD) {
      out.push(`[${part.join(",")}]`);
      part = [];
      size = 2;
    }
    part.push(text);
    size += text.length + 1;
  }
  if (part.length > 0) out.push(`[${part.join(",")}]`);
  return out;
}

function _deliver(listener: NoticeListener, notice: ClusterNotice): void {
  try {
    listener(notice);
  } catch (error) {
    console.error(
      `libos: a notice listener failed: ${error instanceof Error ? error.message : error}`,
    );
  }
}

/** The notices of a committed batch (one per process, its last state). */
export function noticesOf(kernel: string, mutations: readonly Mutation[]): ClusterNotice[] {
  const out: ClusterNotice[] = [];
  const procs = new Map<Pid, string>();
  for (const m of mutations) {
    if (m.kind === "process.put") procs.set(m.process.pid, m.process.state);
    else if (m.kind === "human.put") {
      const r = m.request;
      out.push({ kind: "human", kernel, id: r.id, pid: r.pid, state: r.state });
    } else if (m.kind === "message.put") {
      out.push({ kind: "message", kernel, channel: m.message.channel });
    }
  }
  for (const [pid, state] of procs) out.push({ kind: "process", kernel, pid, state });
  return out;
}

/**
 * The notifier of a store: LISTEN/NOTIFY when the store offers it
 * (PostgreSQL), else a new in-process bus (one kernel).
 */
export async function notifierFor(store: Store): Promise<Notifier> {
  return store.listenNotify === undefined
    ? new LocalNotifier()
    : await PostgresNotifier.open(store.listenNotify);
}
