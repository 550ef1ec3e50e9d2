/**
 * Routes that act on a process serve it on the kernel that owns it
 * (docs/cluster.md "Across kernels"): a route declares how its target
 * process is found ({@linkcode OwnerOf}), and {@linkcode atOwner} — after
 * authorization and the Idempotency-Key, before validation — forwards the
 * request whole to the owner when that is another kernel (api/forwarder.ts),
 * answering what the owner answered. On this kernel's own process, on a
 * store of one kernel, or on a request forwarded here, the route runs here.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { Context, MiddlewareHandler } from "hono";
import type { ApiContext, ApiEnv } from "./context.ts";
import { type LibosError, libosError } from "../runtime/mod.ts";
import { RevisionMismatch } from "./revision.ts";
import type { Principal } from "./token_store.ts";
import {
  checkpointPid,
  findHumanRequest,
  findProcess,
  grantSubject,
  ownsProcess,
} from "./cluster_reach.ts";
import { FORWARDED_AS_HEADER } from "./forwarded_as.ts";
import { keptRequestHeaders } from "./forwarder.ts";

/** The process a request acts on, or null when none is known (the route then answers here). */
export type OwnerOf = (c: Context<ApiEnv>) => Promise<string | null>;

/** The process named by the `pid` path parameter. */
export const byPid: OwnerOf = (c) => Promise.resolve(c.req.param("pid") ?? null);

/** The process of the human request named by the `id` path parameter. */
export const byHumanRequest: OwnerOf = async (c) =>
  (await findHumanRequest(c.var.ctx.kernel, c.req.param("id") ?? "")).pid;

/** The process holding the grant named by the `id` path parameter. */
export const byGrant: OwnerOf = (c) => grantSubject(c.var.ctx.kernel, c.req.param("id") ?? "");

/** The process of the checkpoint named by the `id` path parameter. */
export const byCheckpoint: OwnerOf = (c) =>
  checkpointPid(c.var.ctx.kernel, c.req.param("id") ?? "");

/** Forwards the request to the kernel that owns its target process, if another. */
export function atOwner(ownerOf: OwnerOf): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const { kernel, forwarder } = c.var.ctx;
    if (
      !kernel.store.shared || kernel.store.forwarded === undefined ||
      c.req.header(FORWARDED_AS_HEADER) !== undefined
    ) {
      return await next();
    }
    const pid = await ownerOf(c);
    if (pid === null || ownsProcess(kernel, pid)) return await next();
    await findProcess(kernel, pid); // no such process anywhere: 404 here
    const url = new URL(c.req.url);
    const bytes = c.req.method === "GET" || c.req.method === "HEAD"
      ? null
      : new Uint8Array(await c.req.arrayBuffer());
    const command = c.get("command") ?? null;
    const res = await forwarder.request(pid, {
      method: c.req.method,
      path: url.pathname + url.search,
      headers: keptRequestHeaders(c.req.raw.headers),
      body: bytes === null ? null : Buffer.from(bytes).toString("base64"),
      principal: c.var.principal,
    }, command);
    // The owner ran the command under the key's record and wrote its answer.
    if (command !== null) c.set("commandAnswered", true);
    return res;
  };
}

/**
 * A call of an API route on the kernel that owns `pid`, for a caller that
 * is not a route (an MCP tool): null when this kernel runs the process (or
 * the store has one kernel) — the caller then acts here — else the owner's
 * answer, its JSON body on success, its error thrown again.
 */
export async function callAtOwner(
  ctx: ApiContext,
  principal: Principal,
  pid: string,
  call: { method: string; path: string; body?: unknown; ifMatch?: string },
): Promise<unknown> {
  const { kernel, forwarder } = ctx;
  if (!kernel.store.shared || kernel.store.forwarded === undefined) return null;
  if (ownsProcess(kernel, pid)) return null;
  await findProcess(kernel, pid);
  const body = call.body === undefined ? null : JSON.stringify(call.body);
  const res = await forwarder.request(pid, {
    method: call.method,
    path: call.path,
    headers: {
      ...(body === null ? {} : { "content-type": "application/json" }),
      ...(call.ifMatch === undefined ? {} : { "if-match": call.ifMatch }),
    },
    body: body === null ? null : Buffer.from(body).toString("base64"),
    principal,
  }, null);
  const json = await res.json().catch(() => null);
  if (res.ok) return json;
  if (res.status === 412 && json?.current !== undefined) throw new RevisionMismatch(json.current);
  throw libosError(
    (json?.error?.code ?? "EINTERNAL") as LibosError["code"],
    json?.error?.message ?? `Cannot ${call.method} ${call.path}: the owner answered ${res.status}`,
  );
}
