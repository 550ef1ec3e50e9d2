/**
 * The control plane's reach over a cluster (docs/cluster.md "Across
 * kernels"): a kernel's API reads a process or human request another kernel
 * owns from the store, long-polls it woken by the notifier, and forwards a
 * signal or a decision to the owner through the store's `forwarded` queue —
 * the owner applies it through its normal kernel method (the caller's actor
 * and ceiling, the same If-Match and preview checks) and writes the result,
 * which the forwarding kernel answers with. A store of one kernel has no one
 * to reach: every function here is then the kernel's own answer.
 *
 * @module
 */
import {
  type Actor,
  type CommandRecord,
  hasCode,
  type HumanDecision,
  type HumanRequest,
  type Kernel,
  LibosError,
  libosError,
  type ProcessRecord,
  type ProcessState,
  type Signal,
  type SpawnRequest,
} from "../runtime/mod.ts";
import type { ClusterNotice, ForwardedCommand } from "../runtime/mod.ts";
import { checkIfMatch, RevisionMismatch, withRevision } from "./revision.ts";

/** How long a forwarding kernel waits for the owner's answer, in ms. */
export const FORWARD_TIMEOUT_MS = 10_000;
/** The fallback poll of a forwarded command's row and of a remote long poll, in ms. */
const _POLL_MS = 500;

/** A process, this kernel's or (on a shared store) any kernel's. */
export async function findProcess(kernel: Kernel, pid: string): Promise<ProcessRecord> {
  try {
    return kernel.get(pid);
  } catch (error) {
    if (!hasCode(error, "ENOENT") || !kernel.store.shared) throw error;
    const [p] = await kernel.store.readProcesses({ pids: [pid] });
    if (p === undefined) throw error;
    return p;
  }
}

/** Whether this kernel runs the process. */
export function ownsProcess(kernel: Kernel, pid: string): boolean {
  try {
    kernel.get(pid);
    return true;
  } catch {
    return false;
  }
}

/** Processes of the whole cluster (this kernel's as it holds them, the others' as stored). */
export async function clusterProcesses(
  kernel: Kernel,
  filter: { state?: ProcessState; parent?: string },
): Promise<ProcessRecord[]> {
  const local = kernel.list(filter);
  if (!kernel.store.shared) return local;
  const mine = new Set(local.map((p) => p.pid));
  const stored = await kernel.store.readProcesses(filter);
  return [...local, ...stored.filter((p) => !mine.has(p.pid))];
}

/** A human request, this kernel's or (on a shared store) any kernel's. */
export async function findHumanRequest(kernel: Kernel, id: string): Promise<HumanRequest> {
  try {
    return kernel.humanRequest(id);
  } catch (error) {
    if (!hasCode(error, "ENOENT") || !kernel.store.shared) throw error;
    const [r] = await kernel.store.readHumanRequests({ ids: [id] });
    if (r === undefined) throw error;
    return r;
  }
}

/** Human requests of the whole cluster, oldest first. */
export async function clusterHumanRequests(
  kernel: Kernel,
  filter: { state?: HumanRequest["state"]; pid?: string },
): Promise<HumanRequest[]> {
  const local = kernel.humanRequests(filter);
  if (!kernel.store.shared) return local;
  const mine = new Set(local.map((r) => r.id));
  const stored = await kernel.store.readHumanRequests(filter);
  return [...local, ...stored.filter((r) => !mine.has(r.id))]
    .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
}

/**
 * Waits until another kernel's process settles (`done`), re-reading it from
 * the store at each of its notices and every {@linkcode _POLL_MS}; resolves
 * with the record then, or at `signal`'s abort with the last one read.
 */
export async function waitRemote(
  kernel: Kernel,
  pid: string,
  done: (state: ProcessState) => boolean,
  signal: AbortSignal,
): Promise<{ process: ProcessRecord; timedOut: boolean }> {
  let wake: () => void = () => {};
  using _sub = kernel.onNotice((n) => {
    if (n.kind === "process" && n.pid === pid) wake();
  });
  const onAbort = () => wake();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    for (;;) {
      const p = await findProcess(kernel, pid);
      if (done(p.state)) return { process: p, timedOut: false };
      if (signal.aborted) return { process: p, timedOut: true };
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, _POLL_MS);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/** A forwarded command's payload, by kind. */
type _Payload =
  | { kind: "signal"; pid: string; signal: Signal; ifMatch: string | null; actor: Actor }
  | {
    kind: "answer";
    id: string;
    decision: HumanDecision;
    ifMatch: string | null;
    actor: Actor;
  }
  | {
    kind: "spawn";
    request: SpawnRequest;
    actor: Actor;
    /** The Idempotency-Key's record: written by the applier, in the spawn's batch. */
    command: CommandRecord | null;
  };

/** The owner's answer to a forwarded command. */
type _Result =
  | { ok: true; value: unknown }
  | { ok: false; code: string; message: string; current?: object & { revision: string } };

/**
 * Forwards commands to the kernels that own their targets, and applies the
 * ones forwarded to this kernel (see the module doc).
 */
export class Forwarder implements Disposable {
  readonly #kernel: Kernel;
  #sub: Disposable | null = null;
  #sweep: ReturnType<typeof setInterval> | null = null;
  #inFlight = new Set<string>();
  #draining = false;
  #again = false;
  #closed = false;

  constructor(kernel: Kernel) {
    this.#kernel = kernel;
    if (kernel.store.forwarded === undefined) return;
    this.#sub = kernel.onNotice((n) => this.#onNotice(n));
    // Commands of a kernel that died before answering go to whoever adopted
    // their process: looked for now and then, besides the notices.
    const sweep = setInterval(() => this.#drain(), 2000);
    Deno.unrefTimer(sweep);
    this.#sweep = sweep;
    this.#drain();
  }

  /** Signals a process another kernel owns, through that kernel; its record after. */
  signal(
    pid: string,
    signal: Signal,
    options: { ifMatch: string | null; actor: Actor },
  ): Promise<ProcessRecord & { revision: string }> {
    return this.#forward(pid, { kind: "signal", pid, signal, ...options }) as Promise<
      ProcessRecord & { revision: string }
    >;
  }

  /** Decides a human request of a process another kernel owns, through that kernel. */
  answer(
    request: HumanRequest,
    decision: HumanDecision,
    options: { ifMatch: string | null; actor: Actor },
  ): Promise<HumanRequest & { revision: string }> {
    return this.#forward(request.pid, {
      kind: "answer",
      id: request.id,
      decision,
      ...options,
    }) as Promise<
      HumanRequest & { revision: string }
    >;
  }

  /**
   * Spawns on another kernel (placement): it applies the spawn with the
   * caller's actor and ceiling and, when `command` is given, writes the
   * Idempotency-Key's record in the spawn's batch and its answer after. If
   * it does not take the spawn in time, the spawn is expired (`ETIMEDOUT`)
   * and no kernel applies it later.
   */
  spawn(
    kernel: string,
    request: SpawnRequest,
    options: { actor: Actor; command: CommandRecord | null },
  ): Promise<{ pid: string; process: ProcessRecord }> {
    return this.#forward({ owner: kernel, pid: null }, {
      kind: "spawn",
      request,
      ...options,
    }) as Promise<{ pid: string; process: ProcessRecord }>;
  }

  async #forward(
    to: string | { owner: string; pid: null },
    payload: _Payload,
  ): Promise<unknown> {
    const k = this.#kernel;
    const queue = k.store.forwarded;
    // A pid: whichever kernel owns it when it looks takes it (an adopter too).
    const { owner, pid } = typeof to === "string" ? { owner: null, pid: to } : to;
    const target = pid === null ? `kernel ${owner}` : `process ${pid}`;
    if (queue === undefined) {
      throw libosError("ENOENT", `Cannot reach ${target}: this kernel does not run it`);
    }
    const id = `fw_${crypto.randomUUID()}`;
    const command: ForwardedCommand = {
      id,
      owner,
      pid,
      kind: payload.kind,
      payload,
      state: "pending",
      result: null,
      createdAt: Date.now(),
    };
    let wake: () => void = () => {};
    using _sub = k.onNotice((n) => {
      if (n.kind === "forwarded.done" && n.id === id) wake();
    });
    await queue.put(command);
    k.notifier.publish([{ kind: "forwarded", kernel: k.kernelId, id, owner, pid }]);
    const deadline = Date.now() + FORWARD_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const row = await queue.read(id);
      if (row?.state === "done") return _settle(row.result as _Result);
      if (Date.now() >= deadline) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(_POLL_MS, Math.max(0, deadline - Date.now())));
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    if (payload.kind !== "spawn") {
      throw libosError(
        "ETIMEDOUT",
        `Cannot ${payload.kind} for ${target}: the kernel that runs it did not answer within ${FORWARD_TIMEOUT_MS} ms (command ${id} stays queued)`,
        pid === null ? {} : { pid },
      );
    }
    // A spawn no one took is given up: no kernel applies it after this.
    if (await queue.expire(id)) {
      throw libosError(
        "ETIMEDOUT",
        `Cannot spawn on ${target}: it did not take the spawn within ${FORWARD_TIMEOUT_MS} ms; nothing was spawned (command ${id} expired)`,
      );
    }
    const row = await queue.read(id);
    if (row?.state === "done") return _settle(row.result as _Result);
    throw libosError(
      "ETIMEDOUT",
      `Cannot tell whether the spawn on ${target} happened: it took the spawn but did not answer within ${FORWARD_TIMEOUT_MS} ms (command ${id}); list the processes, or retry with the same Idempotency-Key`,
    );
  }

  #onNotice(n: ClusterNotice): void {
    if (n.kind !== "forwarded") return;
    if (n.owner === this.#kernel.kernelId || (n.pid !== null && ownsProcess(this.#kernel, n.pid))) {
      this.#drain();
    }
  }

  /** Applies the pending commands for this kernel, one pass at a time. */
  #drain(): void {
    if (this.#closed || this.#kernel.closed || this.#kernel.fenced) return;
    if (this.#draining) {
      this.#again = true;
      return;
    }
    this.#draining = true;
    void (async () => {
      const queue = this.#kernel.store.forwarded!;
      do {
        this.#again = false;
        const pending = await queue.pendingFor(this.#kernel.kernelId, 64);
        for (const c of pending) {
          if (this.#inFlight.has(c.id)) continue;
          this.#inFlight.add(c.id);
          try {
            // A spawn is applied once, and never once its sender gave it up.
            if (c.kind === "spawn" && !(await queue.take(c.id))) continue;
            const result = await this.#apply(c.payload as _Payload);
            if (await queue.finish(c.id, result)) {
              this.#kernel.notifier.publish([{
                kind: "forwarded.done",
                kernel: this.#kernel.kernelId,
                id: c.id,
              }]);
            }
          } finally {
            this.#inFlight.delete(c.id);
          }
        }
      } while (this.#again && !this.#closed);
    })().catch((e) =>
      console.error(`libos: applying forwarded commands: ${e instanceof Error ? e.message : e}`)
    ).finally(() => this.#draining = false);
  }

  /** Applies one command as the route on this kernel would, answering an error as data. */
  async #apply(p: _Payload): Promise<_Result> {
    const k = this.#kernel;
    try {
      switch (p.kind) {
        case "signal": {
          checkIfMatch(p.ifMatch ?? undefined, k.get(p.pid));
          return { ok: true, value: withRevision(await k.signal(p.pid, p.signal, p.actor)) };
        }
        case "answer": {
          checkIfMatch(p.ifMatch ?? undefined, k.humanRequest(p.id));
          return { ok: true, value: withRevision(await k.answer(p.id, p.decision, p.actor)) };
        }
        case "spawn":
          return { ok: true, value: await this.#spawnHere(p) };
        default:
          return {
            ok: false,
            code: "EINVAL",
            message: "Cannot apply an unknown forwarded command",
          };
      }
    } catch (error) {
      if (error instanceof RevisionMismatch) {
        return { ok: false, code: "EMISMATCH", message: error.message, current: error.current };
      }
      if (error instanceof LibosError) {
        return { ok: false, code: error.code, message: error.message };
      }
      return { ok: false, code: "EINTERNAL", message: String(error) };
    }
  }

  /** A spawn placed here: run under its Idempotency-Key's record, answered into it. */
  async #spawnHere(
    p: Extract<_Payload, { kind: "spawn" }>,
  ): Promise<{ pid: string; process: ProcessRecord }> {
    const k = this.#kernel;
    if (p.command === null) {
      const process = await k.spawn(p.request, p.actor);
      return { pid: process.pid, process };
    }
    const { result: process, record } = await k.commands.run(
      p.command,
      () => k.spawn(p.request, p.actor),
    );
    const value = { pid: process.pid, process };
    await k.commands.finish(record, {
      status: 201,
      body: JSON.stringify(value),
      headers: { "content-type": "application/json" },
    });
    return value;
  }

  /** Stops applying forwarded commands. */
  [Symbol.dispose](): void {
    this.#closed = true;
    this.#sub?.[Symbol.dispose]();
    if (this.#sweep !== null) clearInterval(this.#sweep);
  }
}

/** The owner's answer as this kernel's: its value, or its error thrown again. */
function _settle(r: _Result): unknown {
  if (r.ok) return r.value;
  if (r.code === "EMISMATCH" && r.current !== undefined) throw new RevisionMismatch(r.current);
  throw libosError(r.code as LibosError["code"], r.message);
}
