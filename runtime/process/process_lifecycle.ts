/**
 * The lifecycle service: moves processes between states (the transition
 * table of `lifecycle.ts`), parks and wakes them, keeps their timers (a
 * sleep, a receive's deadline, a human request's expiry), and does what an
 * ended process leaves to do (its waiting parent wakes, its sandbox and MCP
 * sessions go, a `purge_on_exit` process is purged).
 *
 * Every move is written into a batch; what follows it (events, scheduling,
 * timers) runs once the batch is durable.
 *
 * @module
 */
import { Batch } from "../engine/batch.ts";
import type { Records } from "../engine/records.ts";
import type { EventBus } from "../events.ts";
import { errorText, logLine } from "../human/preview.ts";
import type { Mailboxes } from "../mailbox/mailboxes.ts";
import type { McpClients } from "../mcp/mcp_clients.ts";
import { purgeDue } from "../retention/retention.ts";
import type { Clock } from "../substrate/clock.ts";
import type { ToolHost } from "../tool_host.ts";
import type { HumanRequest, Pid, ProcessRecord, ProcessState, WaitReason } from "../types.ts";
import { assertTransition, isTerminal } from "./lifecycle.ts";
import type { ProcessTable } from "./process_table.ts";
import type { Scheduler } from "./scheduler.ts";

/** What {@linkcode ProcessLifecycle} works with. */
export interface ProcessLifecycleOptions {
  table: ProcessTable;
  records: Records;
  clock: Clock;
  events: EventBus;
  scheduler: Scheduler;
  mailboxes: Mailboxes;
  /** The human request table (a wait on a request is over once it is answered). */
  human: ReadonlyMap<string, HumanRequest>;
  toolHost: ToolHost | null;
  mcp: McpClients | null;
  /** Purges an ended `purge_on_exit` process (runtime/retention/purge.ts). */
  purge: (pid: Pid) => Promise<unknown>;
  /** Expires a pending human request whose deadline passed. */
  expire: (id: string) => Promise<unknown>;
  /** A kernel bug or a store failure while acting for `pid`: the kernel stops. */
  failed: (pid: Pid | null, error: unknown) => void;
}

/** Options of a transition. */
export interface TransitionOptions {
  reason?: string | null;
  wait?: WaitReason | null;
  actor?: string;
}

/** The lifecycle service (see the module doc). */
export class ProcessLifecycle {
  readonly #o: ProcessLifecycleOptions;
  /** Timers by pid (sleep, receive deadline) and by `human:<id>` (expiry). */
  #timers = new Map<string, Disposable>();
  /** Purges in flight, by pid. */
  #purges = new Map<Pid, Promise<void>>();
  #probation: Promise<void> = Promise.resolve();

  constructor(options: ProcessLifecycleOptions) {
    this.#o = options;
  }

  /** Moves a process to a new state inside a batch. */
  transition(
    batch: Batch,
    p: ProcessRecord,
    to: ProcessState,
    options: TransitionOptions = {},
  ): void {
    const { records, events } = this.#o;
    const from = p.state;
    assertTransition(p.pid, from, to);
    p.state = to;
    p.wait = to === "waiting" ? options.wait ?? null : to === "suspended" ? p.wait : null;
    if (options.reason !== undefined) p.reason = options.reason;
    const now = this.#o.clock.now();
    if (to === "running" && p.startedAt === null) p.startedAt = now;
    if (isTerminal(to)) {
      p.endedAt = now;
      p.cursor = null;
    }
    records.saveProcess(batch, p);
    // "running" ⇄ "runnable" happen every quantum: they are in the process
    // record, not worth a journal or audit entry each.
    const routine = (from === "runnable" && to === "running") ||
      (from === "running" && to === "runnable");
    if (!routine) {
      records.journal(batch, p.pid, "lifecycle", {
        from,
        to,
        reason: p.reason,
        wait: p.wait,
      });
      records.audit(batch, {
        actor: options.actor ?? "kernel",
        action: `process.${to}`,
        pid: p.pid,
        detail: { from, reason: options.reason ?? null, wait: p.wait },
      });
    }
    const reason = p.reason;
    batch.then(() => {
      this.#o.table.liveOf(p.pid).committed = to;
      if (events.size > 0) {
        events.emit({ type: "process", pid: p.pid, from, state: to, reason });
      }
      if (to === "runnable" && !batch.scheduled.has(p.pid)) this.#o.scheduler.enqueue(p.pid);
      if (isTerminal(to)) this.#onTerminal(p);
    });
  }

  /**
   * Commits a batch that leaves `runnable` runnable without waiting for it
   * to be durable, and queues the process to run again at once. Batches land
   * in the order they are handed over, and every effect that leaves the
   * kernel waits for a commit of its own first, so nothing outside sees an
   * effect before this batch is durable; a crash before it is replayed
   * exactly as one during the calls it records. Only for a batch whose
   * syscalls are all safe to redo (not {@linkcode Batch.mustAwait}). A
   * failure is handled as any commit's (fenced, or a kernel fault).
   */
  commitBehind(batch: Batch, runnable: Pid): void {
    batch.scheduled.add(runnable);
    this.#o.records.commit(batch, true).catch(() => {});
    this.#o.scheduler.enqueue(runnable);
  }

  /** Parks a running process on a wait reason (timers armed). */
  park(batch: Batch, p: ProcessRecord, wait: WaitReason): void {
    this.transition(batch, p, "waiting", { wait, reason: null });
    if (wait.kind === "timer") batch.then(() => this.armTimer(p.pid, wait.until));
    if (wait.kind === "message") {
      batch.then(() => {
        if (wait.until !== null) this.armTimer(p.pid, wait.until);
        this.#o.mailboxes.park(wait.channel, p.pid);
      });
    }
  }

  /** Wakes a waiting process so its pending call runs again. */
  async wake(pid: Pid, why: string): Promise<void> {
    const p = this.#o.table.find(pid);
    if (p === undefined || p.state !== "waiting") return;
    const batch = new Batch();
    this.transition(batch, p, "runnable", { reason: null, actor: `kernel:${why}` });
    await this.#o.records.commit(batch);
  }

  /** A receiver's channel got a message: its deadline timer goes, it runs again. */
  wakeFromMail(pid: Pid): void {
    const p = this.#o.table.find(pid);
    if (p?.state !== "waiting" || p.wait?.kind !== "message") return;
    this.#clearTimer(pid);
    void this.wake(pid, "message").catch((e) => this.#o.failed(pid, e));
  }

  /** Whether what a waiting process waits for has happened. */
  waitSatisfied(p: ProcessRecord): boolean {
    const w = p.wait;
    if (w === null) return true;
    switch (w.kind) {
      case "timer":
        return this.#o.clock.now() >= w.until;
      case "child": {
        const c = this.#o.table.find(w.pid);
        return c === undefined || isTerminal(c.state);
      }
      case "human": {
        const r = this.#o.human.get(w.requestId);
        return r === undefined || r.state !== "pending";
      }
      case "event":
        return false;
      // The receive runs again: it takes a message stored meanwhile (by
      // this kernel or another), or waits again.
      case "message":
        return true;
    }
  }

  /** After a restore set a record directly: schedule, wake or arm it. */
  settleRestored(batch: Batch, p: ProcessRecord): void {
    if (p.state === "waiting" && this.waitSatisfied(p)) {
      p.state = "runnable";
      p.wait = null;
    }
    const state = p.state;
    const events = this.#o.events;
    batch.then(() => {
      this.#o.table.liveOf(p.pid).committed = state;
      if (events.size > 0) {
        events.emit({ type: "process", pid: p.pid, from: null, state, reason: "restored" });
      }
      if (state === "runnable") this.#o.scheduler.enqueue(p.pid);
      if (state === "waiting" && p.wait?.kind === "timer") this.armTimer(p.pid, p.wait.until);
    });
  }

  /**
   * Resolves with a copy of the record when the process is terminal or
   * waiting (`until: "terminal"`: terminal only), as its durable state says.
   */
  settled(
    pid: Pid,
    options: { until?: "settled" | "terminal"; signal?: AbortSignal } = {},
  ): Promise<ProcessRecord> {
    const p = this.#o.table.get(pid);
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    const done = (state: ProcessState) =>
      isTerminal(state) || (options.until !== "terminal" && state === "waiting");
    // Settled only when the durable state says so and nothing has moved it
    // on in memory since (a timer that just fired is still committing).
    if (done(this.#o.table.liveOf(pid).committed) && done(p.state)) {
      return Promise.resolve(structuredClone(p));
    }
    return new Promise((resolve, reject) => {
      const sub = this.#o.events.subscribe((e) => {
        if (e.type === "process" && e.pid === pid && done(e.state)) {
          cleanup();
          resolve(structuredClone(p));
        }
      });
      const onAbort = () => {
        cleanup();
        reject(options.signal?.reason);
      };
      const cleanup = () => {
        sub[Symbol.dispose]();
        options.signal?.removeEventListener("abort", onAbort);
      };
      options.signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Runs recovery attempts one at a time, so a crash is attributable. */
  async probation<T>(fn: () => Promise<T>): Promise<T> {
    const prev = this.#probation;
    let release!: () => void;
    this.#probation = new Promise<void>((r) => release = r);
    await prev;
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** Arms a waiting process's timer: at `until` it wakes. */
  armTimer(pid: Pid, until: number): void {
    this.#clearTimer(pid);
    this.#timers.set(
      pid,
      this.#o.clock.setTimer(until, () => {
        this.#timers.delete(pid);
        this.#o.mailboxes.forget(pid);
        void this.wake(pid, "timer").catch((e) => this.#o.failed(pid, e));
      }),
    );
  }

  /** Arms the expiry of a pending human request. */
  armExpiry(r: HumanRequest): void {
    if (r.expiresAt === null) return;
    const key = `human:${r.id}`;
    this.#timers.set(
      key,
      this.#o.clock.setTimer(r.expiresAt, () => {
        this.#timers.delete(key);
        void this.#o.expire(r.id).catch((e) => this.#o.failed(r.pid, e));
      }),
    );
  }

  /** Clears every timer (the kernel closes or lost its lease). */
  clearTimers(): void {
    for (const t of this.#timers.values()) t[Symbol.dispose]();
    this.#timers.clear();
  }

  /**
   * Purges an ended process once its last quantum is over (one batch; see
   * runtime/retention/purge.ts). One purge per process at a time.
   */
  purge(pid: Pid): Promise<void> {
    const running = this.#purges.get(pid);
    if (running !== undefined) return running;
    const done = (async () => {
      await this.#o.scheduler.quantumOf(pid);
      await this.#o.purge(pid);
    })().finally(() => this.#purges.delete(pid));
    this.#purges.set(pid, done);
    return done;
  }

  /** Resolves when the purge of `pid` in flight (if any) is over. */
  async whenPurged(pid: Pid): Promise<void> {
    await this.#purges.get(pid);
  }

  /** Resolves when every purge in flight is over. */
  async purgesSettled(): Promise<void> {
    await Promise.allSettled([...this.#purges.values()]);
  }

  #clearTimer(pid: Pid): void {
    const t = this.#timers.get(pid);
    if (t !== undefined) {
      this.#timers.delete(pid);
      t[Symbol.dispose]();
    }
  }

  /**
   * A parent waiting on this child wakes; timers are cleared; the sandbox lets
   * go; a `purge_on_exit` process's bodies are purged.
   */
  #onTerminal(p: ProcessRecord): void {
    const { failed } = this.#o;
    this.#clearTimer(p.pid);
    this.#o.mailboxes.forget(p.pid);
    if (purgeDue(p)) void this.purge(p.pid).catch((e) => failed(p.pid, e));
    void this.#o.toolHost?.release?.(p.pid).catch((e) =>
      console.error(logLine(`libos: releasing ${p.pid}'s sandbox: ${errorText(e)}`))
    );
    void this.#o.mcp?.release(p.pid);
    if (p.parentPid === null) return;
    const parent = this.#o.table.find(p.parentPid);
    if (parent?.state === "waiting" && parent.wait?.kind === "child" && parent.wait.pid === p.pid) {
      void this.wake(parent.pid, "child ended").catch((e) => failed(parent.pid, e));
    }
  }
}
