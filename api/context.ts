/**
 * What every handler of the control plane reaches through `c.var`: the kernel
 * and the control plane's own parts (`ctx`), and who is calling (`principal`,
 * set by the authorization middleware).
 *
 * @module
 */
import type { Actor, CommandRecord, Kernel } from "../runtime/mod.ts";
import type { EventHub } from "./event_hub.ts";
import type { Forwarder } from "./forwarder.ts";
import type { Principal, TokenStore } from "./token_store.ts";

/** Limits and settings of a control plane; every field documents its default. */
export interface ApiLimits {
  /** Largest request body in bytes (default 1 MiB). */
  bodyLimit: number;
  /** Default long-poll of `GET /v1/processes/:pid/wait` in ms (default 30,000). */
  defaultWaitMs: number;
  /** Longest long-poll in ms (default 300,000). */
  maxWaitMs: number;
  /** Interval of the event stream's heartbeat comment in ms (default 15,000). */
  heartbeatMs: number;
  /** Most open event streams at once (default 256); more are answered 503. */
  maxEventStreams: number;
  /** Most open event streams of one token (default 16); more are answered 429. */
  maxEventStreamsPerToken: number;
  /**
   * How many of the last `maxEventStreams` only admin tokens may open
   * (default 16, or half of `maxEventStreams` when that is less), so that a
   * viewer or operator filling the cap cannot lock the admin out; a
   * non-admin stream past `maxEventStreams - adminEventStreams` is answered 503.
   */
  adminEventStreams: number;
  /** How long an `Idempotency-Key` is kept, in ms (default 86,400,000: 24 h). */
  idempotencyTtlMs: number;
}

/** The control plane's parts, shared by every request. */
export interface ApiContext {
  kernel: Kernel;
  tokens: TokenStore;
  events: EventHub;
  limits: ApiLimits;
  /** Aborted when the control plane closes: long polls answer at once. */
  closing: AbortSignal;
  /** Forwards what acts on another kernel's process to that kernel (docs/cluster.md). */
  forwarder: Forwarder;
}

/** The Hono environment of the control plane. */
export interface ApiEnv {
  Variables: {
    ctx: ApiContext;
    principal: Principal;
    /**
     * The `Idempotency-Key` record the request runs under, if it has one (set
     * by the idempotency middleware). A handler that has another kernel apply
     * the command hands it the record and sets `commandAnswered`: the record
     * and its answer are then that kernel's to write.
     */
    command?: CommandRecord;
    /** The command's record was answered by the kernel that applied it. */
    commandAnswered?: boolean;
    /**
     * What a retry with the same key is answered instead of this answer, when
     * the answer must not be kept (a token's secret is shown once).
     */
    replayInstead?: { status: number; error: { code: string; message: string } };
  };
}

/** The audit actor of a principal: `token:<name>`. */
export function actorOf(principal: Principal): Actor {
  return { actor: `token:${principal.name}`, ceiling: principal.ceiling };
}
