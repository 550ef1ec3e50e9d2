/**
 * Commands forwarded between the kernels of a cluster (docs/cluster.md
 * "Across kernels"), through the store's `forwarded` queue. One path serves
 * every route that acts on a process: the kernel that took the request
 * queues it whole (method, path, body, If-Match, the caller's principal and
 * its Idempotency-Key record) for whichever kernel owns the process; that
 * kernel takes it (once), serves it through its own routes as the caller
 * (api/forwarded_as.ts) — so the same validation, role, actor, ceiling,
 * If-Match and preview checks apply — under the key's record when there is
 * one, and writes the answer, which the forwarding kernel answers with. A
 * spawn placed on another kernel (api/placement.ts) goes the same way to
 * that kernel by id.
 *
 * Housekeeping: a command taken by a kernel that died before answering is
 * answered `EUNKNOWN` by the next sweep of any kernel (whether it took
 * effect is not known: read the state, or retry with the same
 * Idempotency-Key); answered rows are purged after
 * {@linkcode FORWARDED_KEEP_MS}.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import {
  type Actor,
  type ClusterNotice,
  type CommandRecord,
  type ForwardedCommand,
  type Kernel,
  LibosError,
  libosError,
  type ProcessRecord,
  type SpawnRequest,
} from "../runtime/mod.ts";
import { ownsProcess } from "./cluster_reach.ts";
import { asPrincipal, FORWARDED_AS_HEADER } from "./forwarded_as.ts";
import { keepResponse, REPLAYED_HEADER } from "./kept_response.ts";
import { RevisionMismatch } from "./revision.ts";
import type { Principal } from "./token_store.ts";

/** How long a forwarding kernel waits for the owner's answer, in ms. */
export const FORWARD_TIMEOUT_MS = 10_000;
/** How long an answered (or given up) forwarded command is kept before it is purged, in ms. */
export const FORWARDED_KEEP_MS = 15 * 60 * 1000;
/** The fallback poll of a forwarded command's row, in ms. */
const _POLL_MS = 500;
/** How often a kernel looks for commands no notice told it of, and for orphans, in ms. */
const _SWEEP_MS = 2000;
/** Every how many sweeps the answered rows are purged (about a minute). */
const _PURGE_EVERY = 30;

/** The request headers a forwarded request keeps. */
const _KEPT_REQUEST_HEADERS = ["content-type", "if-match", "accept"];

/** A request as forwarded: what the owner serves as its caller. */
export interface ForwardedRequest {
  method: string;
  /** Path and query. */
  path: string;
  headers: Record<string, string>;
  /** The body's bytes in base64, or null. */
  body: string | null;
  principal: Principal;
}

/** A forwarded command's payload, by kind. */
type _Payload =
  | {
    kind: "request";
    request: ForwardedRequest;
    /** The Idempotency-Key's record: run and answered by the applier. */
    command: CommandRecord | null;
  }
  | {
    kind: "spawn";
    request: SpawnRequest;
    actor: Actor;
    /** The Idempotency-Key's record: written by the applier, in the spawn's batch. */
    command: CommandRecord | null;
  };

/** The owner's answer to a forwarded request. */
interface _Answer {
  status: number;
  headers: Record<string, string>;
  /** base64 */
  body: string;
}

/** The owner's answer to a forwarded command. */
type _Result =
  | { ok: true; value: unknown }
  | { ok: false; code: string; message: string; current?: object & { revision: string } };

/** Serves a request through this control plane's routes. */
export type Dispatch = (request: Request) => Promise<Response>;

/**
 * Forwards commands to the kernels that own their targets, and applies the
 * ones forwarded to this kernel (see the module doc).
 */
export class Forwarder implements Disposable {
  readonly #kernel: Kernel;
  readonly #dispatch: Dispatch | null;
  #sub: Disposable | null = null;
  #sweep: ReturnType<typeof setInterval> | null = null;
  #sweeps = 0;
  #inFlight = new Set<string>();
  #draining = false;
  #again = false;
  #closed = false;

  constructor(kernel: Kernel, dispatch: Dispatch | null = null) {
    this.#kernel = kernel;
    this.#dispatch = dispatch;
    if (kernel.store.forwarded === undefined) return;
    this.#sub = kernel.onNotice((n) => this.#onNotice(n));
    // Commands of a kernel that died before answering go to whoever adopted
    // their process: looked for now and then, besides the notices.
    const sweep = setInterval(() => {
      this.#drain();
      void this.#housekeep();
    }, _SWEEP_MS);
    Deno.unrefTimer(sweep);
    this.#sweep = sweep;
    this.#drain();
  }

  /**
   * Serves `request` on the kernel that owns `pid`, as its caller, and
   * answers what it answered. With `command` (the Idempotency-Key's record)
   * the owner runs it under the record and writes its answer.
   */
  async request(
    pid: string,
    request: ForwardedRequest,
    command: CommandRecord | null,
  ): Promise<Response> {
    const a = await this.#forward(pid, { kind: "request", request, command }) as _Answer;
    return new Response(
      a.status === 204 || a.status === 304 ? null : Buffer.from(a.body, "base64"),
      { status: a.status, headers: a.headers },
    );
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
    const what = payload.kind === "spawn"
      ? "spawn"
      : `${payload.request.method} ${payload.request.path}`;
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
    // A command no one took is given up: no kernel applies it after this.
    if (await queue.expire(id)) {
      throw libosError(
        "ETIMEDOUT",
        `Cannot ${what} on ${target}: the kernel that runs it did not take the command within ${FORWARD_TIMEOUT_MS} ms; nothing was ${
          payload.kind === "spawn" ? "spawned" : "done"
        } (command ${id} expired)`,
        pid === null ? {} : { pid },
      );
    }
    const row = await queue.read(id);
    if (row?.state === "done") return _settle(row.result as _Result);
    throw libosError(
      "ETIMEDOUT",
      `Cannot tell whether ${what} on ${target} happened: the kernel that runs it took the command but did not answer within ${FORWARD_TIMEOUT_MS} ms (command ${id}); read the state, or retry with the same Idempotency-Key`,
      pid === null ? {} : { pid },
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
          // Applied one at a time per command, all of a pass at once.
          void this.#applyOne(c).finally(() => this.#inFlight.delete(c.id));
        }
      } while (this.#again && !this.#closed);
    })().catch((e) =>
      console.error(`libos: applying forwarded commands: ${e instanceof Error ? e.message : e}`)
    ).finally(() => this.#draining = false);
  }

  async #applyOne(c: ForwardedCommand): Promise<void> {
    const queue = this.#kernel.store.forwarded!;
    try {
      // Applied once, and never once its sender gave it up.
      if (!(await queue.take(c.id, this.#kernel.kernelId))) return;
      const result = await this.#apply(c.payload as _Payload);
      if (await queue.finish(c.id, result)) {
        this.#kernel.notifier.publish([{
          kind: "forwarded.done",
          kernel: this.#kernel.kernelId,
          id: c.id,
        }]);
      }
    } catch (e) {
      console.error(
        `libos: applying forwarded command ${c.id}: ${e instanceof Error ? e.message : e}`,
      );
    }
  }

  /**
   * Answers the commands a dead kernel took and never answered, and purges
   * old rows now and then.
   */
  async #housekeep(): Promise<void> {
    const k = this.#kernel;
    const queue = k.store.forwarded;
    if (queue === undefined || this.#closed || k.closed || k.fenced) return;
    try {
      const failed = await queue.failOrphans(
        {
          ok: false,
          code: "EUNKNOWN",
          message: "Cannot tell whether the forwarded command took effect: the kernel that " +
            "took it stopped before answering; read the state, or retry with the same " +
            "Idempotency-Key",
        } satisfies _Result,
        64,
      );
      if (failed.length > 0) {
        k.notifier.publish(
          failed.map((id) => ({ kind: "forwarded.done", kernel: k.kernelId, id })),
        );
      }
      if (++this.#sweeps % _PURGE_EVERY === 1) await queue.purge(Date.now() - FORWARDED_KEEP_MS);
    } catch (e) {
      if (!k.closed) {
        console.error(
          `libos: forwarded commands' housekeeping: ${e instanceof Error ? e.message : e}`,
        );
      }
    }
  }

  /** Applies one command as the route on this kernel would, answering an error as data. */
  async #apply(p: _Payload): Promise<_Result> {
    try {
      switch (p.kind) {
        case "request":
          return { ok: true, value: await this.#serve(p) };
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

  /** A request forwarded here: served through this control plane's routes, as its caller. */
  async #serve(p: Extract<_Payload, { kind: "request" }>): Promise<_Answer> {
    const k = this.#kernel;
    const dispatch = this.#dispatch;
    if (dispatch === null) {
      throw libosError("EINVAL", "Cannot serve a forwarded request: this kernel has no API");
    }
    const { request: r, command } = p;
    if (command !== null) {
      // Answered already (a retry forwarded again): the kept answer, nothing done again.
      const found = await k.commands.lookup(command.id);
      if (found.found === "stored" && found.record.response !== null) {
        const kept = found.record.response;
        return {
          status: kept.status,
          headers: { ...kept.headers, [REPLAYED_HEADER]: "true" },
          body: Buffer.from(kept.body).toString("base64"),
        };
      }
      if (found.found === "running" && k.commands.isRunning(command.id)) {
        throw libosError(
          "EBUSY",
          `Cannot run the request: a request with Idempotency-Key '${command.key}' is still running; retry when it has answered`,
        );
      }
    }
    const res = await asPrincipal(r.principal, (nonce) => {
      const request = new Request(new URL(r.path, "http://libos.forwarded"), {
        method: r.method,
        headers: { ...r.headers, [FORWARDED_AS_HEADER]: nonce },
        ...(r.body === null ? {} : { body: Buffer.from(r.body, "base64") }),
      });
      if (command === null) return dispatch(request);
      return (async () => {
        const { result, record } = await k.commands.run(command, () => dispatch(request));
        if (result.status < 500) await k.commands.finish(record, await keepResponse(result));
        return result;
      })();
    });
    const headers: Record<string, string> = {};
    res.headers.forEach((value, name) => {
      if (name !== "content-length") headers[name] = value;
    });
    return {
      status: res.status,
      headers,
      body: Buffer.from(await res.arrayBuffer()).toString("base64"),
    };
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

/** The request headers a forwarded request keeps, from `headers`. */
export function keptRequestHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of _KEPT_REQUEST_HEADERS) {
    const value = headers.get(name);
    if (value !== null) out[name] = value;
  }
  return out;
}

/** The owner's answer as this kernel's: its value, or its error thrown again. */
function _settle(r: _Result): unknown {
  if (r.ok) return r.value;
  if (r.code === "EMISMATCH" && r.current !== undefined) throw new RevisionMismatch(r.current);
  throw libosError(r.code as LibosError["code"], r.message);
}
