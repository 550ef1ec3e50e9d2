/**
 * `Idempotency-Key` on every mutating route. A command sent with a key runs
 * once per (token, key): the kernel writes the key's record in the same
 * store batch as the command's effect ({@linkcode CommandLedger}), and the
 * answer beside it once the command answered. A retry with the same key,
 * route and body gets the stored status and body with
 * `Idempotent-Replayed: true` and does nothing else; the same key with
 * another route or body gets 422 `EIDEMPOTENCY`; a retry while the first is
 * still running gets 409 `EBUSY`. Keys live for the control plane's
 * `idempotencyTtlMs` (24 h by default) and survive restarts.
 *
 * After a crash between the effect and its answer, the record is `pending`
 * with the ids its effect wrote, and a retry is answered from them (the
 * process spawned, the child forked, the request answered, … as it stands
 * now); see {@linkcode _REBUILD}.
 *
 * On a shared store (a cluster, docs/cluster.md) "still running" is
 * cluster-wide: before the command runs, its record is claimed in the store
 * as `running` for this kernel (`CommandLedger.claim`, one conditional
 * upsert), so the same key sent to another kernel meanwhile gets `EBUSY`
 * too. The claim becomes `pending` with the first effect batch, `done` with
 * the answer; a command that answered 5xx or committed nothing releases it;
 * the claim of a kernel that died (declared dead once its lease expired)
 * with nothing committed is void: the next retry claims it and runs.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import type { CommandRecord, CommandResponse, Kernel } from "../runtime/mod.ts";
import type { ApiEnv } from "./context.ts";
import { errorResponse } from "./http_errors.ts";
import { keepResponse, REPLAYED_HEADER } from "./kept_response.ts";
import { etag, withRevision } from "./revision.ts";
import { findHumanRequest, findProcess, processCheckpoints } from "./cluster_reach.ts";

/** The request header naming a command's key. */
export const IDEMPOTENCY_KEY_HEADER = "Idempotency-Key";
export { keepResponse, REPLAYED_HEADER };
/** How long a key is kept by default: 24 hours. */
export const DEFAULT_IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

/** 1–255 printable ASCII characters. */
const _KEY = /^[\x20-\x7e]{1,255}$/;

/** The middleware of a mutating route (after authorization, before validation). */
export function idempotency(): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const key = c.req.header(IDEMPOTENCY_KEY_HEADER);
    if (key === undefined) return await next();
    if (!_KEY.test(key)) {
      return errorResponse(c, 400, {
        code: "EINVAL",
        message: `Cannot accept the ${IDEMPOTENCY_KEY_HEADER} header: expected 1 to 255 ` +
          `printable ASCII characters, got ${key.length} characters` +
          (key.length > 0 && key.length <= 255 ? " with one outside that range" : ""),
      });
    }
    const { kernel, limits } = c.var.ctx;
    const principal = c.var.principal;
    const bodySha256 = createHash("sha256").update(new Uint8Array(await c.req.arrayBuffer()))
      .digest("hex");
    const id = `${principal.id}:${key}`;
    const request = { method: c.req.method, route: c.req.routePath, path: c.req.path, bodySha256 };

    const found = await kernel.commands.lookup(id);
    if (found.found === "running") return _busy(c, key);
    if (found.found === "stored") {
      const answer = await _answerStored(c, kernel, found.record, request);
      if (answer !== "rerun") return answer;
    }

    const now = kernel.clock.now();
    const record: CommandRecord = {
      id,
      key,
      principal: principal.id,
      ...request,
      createdAt: now,
      expiresAt: now + limits.idempotencyTtlMs,
      state: "pending",
      refs: null,
      response: null,
    };
    if (kernel.commands.isRunning(id)) return _busy(c, key); // a retry raced the lookup
    // On a shared store the key is claimed for this kernel before it runs:
    // the same key sent to another kernel at once finds it running.
    const claim = await kernel.commands.claim(record, kernel.kernelId);
    if (!claim.claimed) {
      if (claim.found.found !== "stored") return _busy(c, key);
      const answer = await _answerStored(c, kernel, claim.found.record, request);
      return answer === "rerun" ? _busy(c, key) : answer;
    }
    c.set("command", record);
    let kept = false;
    try {
      const { record: stamped } = await kernel.commands.run(record, async () => await next());
      if (c.res.status >= 500) return; // not kept: a retry runs again (or is rebuilt)
      kept = true;
      if (c.get("commandAnswered") === true) return; // the kernel that applied it wrote it
      const instead = c.get("replayInstead");
      await kernel.commands.finish(
        stamped,
        instead === undefined ? await keepResponse(c.res) : {
          status: instead.status,
          body: JSON.stringify({ error: instead.error }),
          headers: { "content-type": "application/json" },
        },
      );
    } finally {
      // Not answered: the claim goes (unless an effect committed, which made it pending).
      if (!kept) await kernel.commands.release(id, kernel.kernelId).catch(() => {});
    }
  };
}

/** A retry's answer from the stored record: replayed, rebuilt, refused, or run again. */
async function _answerStored(
  c: Context<ApiEnv>,
  kernel: Kernel,
  record: CommandRecord,
  request: { method: string; route: string; path: string; bodySha256: string },
): Promise<Response | "rerun"> {
  const mismatch = _mismatch(record, request);
  if (mismatch !== null) {
    return errorResponse(c, 422, {
      code: "EIDEMPOTENCY",
      message:
        `Cannot reuse ${IDEMPOTENCY_KEY_HEADER} '${record.key}': it was sent with ${mismatch}`,
    });
  }
  if (record.response !== null) return _replay(record.response);
  return await _rebuild(c, kernel, record);
}

function _busy(c: Context<ApiEnv>, key: string): Response {
  return errorResponse(c, 409, {
    code: "EBUSY",
    message: `Cannot run the request: a request with ${IDEMPOTENCY_KEY_HEADER} '${key}' ` +
      "is still running; retry when it has answered",
  });
}

/** What differs between a stored command and a retry, or null. */
function _mismatch(
  stored: CommandRecord,
  retry: { method: string; route: string; path: string; bodySha256: string },
): string | null {
  if (stored.method !== retry.method || stored.path !== retry.path) {
    return `another request (${stored.method} ${stored.path})`;
  }
  if (stored.bodySha256 !== retry.bodySha256) return "another body";
  return null;
}

function _replay(response: CommandResponse): Response {
  return new Response(response.body, {
    status: response.status,
    headers: { ...response.headers, [REPLAYED_HEADER]: "true" },
  });
}

/**
 * An answer rebuilt from what a command's effect made, as it stands now;
 * "rerun" when its main effect never committed (only a preparatory one did,
 * such as the inline image of a spawn), so running it again is safe; null
 * when it cannot be rebuilt.
 */
type _Rebuilt = { status: number; body: unknown; etag?: string } | "rerun" | null;

/**
 * How a command whose answer was lost in a crash is answered, per route,
 * from the ids its effect batch wrote. A route not here (or whose target is
 * gone) answers 409 `EIDEMPOTENCY` naming what the effect wrote.
 */
const _REBUILD: Record<
  string,
  (kernel: Kernel, params: Record<string, string>, refs: NonNullable<CommandRecord["refs"]>) =>
    | _Rebuilt
    | Promise<_Rebuilt>
> = {
  "POST /v1/processes": async (kernel, _params, refs) => {
    const pid = refs.processes[0];
    // Placed on another kernel maybe: read from the store then.
    return pid === undefined
      ? "rerun"
      : { status: 201, body: { pid, process: await findProcess(kernel, pid) } };
  },
  // The process may be another kernel's (the command was forwarded to it).
  "POST /v1/processes/:pid/fork": async (kernel, params, refs) => {
    const pid = refs.processes.find((p) => p !== params["pid"]);
    return pid === undefined
      ? "rerun"
      : { status: 201, body: { pid, process: await findProcess(kernel, pid) } };
  },
  "POST /v1/processes/:pid/signal": async (kernel, params) => {
    const p = withRevision(await findProcess(kernel, params["pid"]!));
    return { status: 200, body: p, etag: etag(p.revision) };
  },
  "POST /v1/human/:id": async (kernel, params) => {
    const r = withRevision(await findHumanRequest(kernel, params["id"]!));
    return { status: 200, body: r, etag: etag(r.revision) };
  },
  "POST /v1/processes/:pid/capabilities": async (kernel, _params, refs) => {
    const id = refs.grants[0];
    const g = id === undefined
      ? undefined
      : kernel.grants.get(id) ?? (await kernel.store.readGrants({ ids: [id] }))[0];
    return g === undefined ? null : { status: 201, body: g };
  },
  "POST /v1/images": (kernel, _params, refs) => {
    const id = refs.images[0];
    return id === undefined ? null : { status: 201, body: kernel.images.get(id) };
  },
  "POST /v1/processes/:pid/checkpoints": async (kernel, params, refs) => {
    const id = refs.checkpoints[0];
    const info = (await processCheckpoints(kernel, params["pid"]!)).find((c) => c.id === id);
    return info === undefined ? null : { status: 201, body: info };
  },
};

async function _rebuild(
  c: Context<ApiEnv>,
  kernel: Kernel,
  record: CommandRecord,
): Promise<Response | "rerun"> {
  const refs = record.refs ?? { processes: [], grants: [], human: [], images: [], checkpoints: [] };
  let rebuilt: _Rebuilt = null;
  try {
    rebuilt = await _REBUILD[`${record.method} ${record.route}`]?.(kernel, c.req.param(), refs) ??
      null;
  } catch {
    rebuilt = null; // its target is gone
  }
  if (rebuilt === "rerun") return rebuilt;
  if (rebuilt === null) {
    const wrote = Object.entries(refs).filter(([, ids]) => ids.length > 0)
      .map(([kind, ids]) => `${kind} ${ids.join(", ")}`).join("; ");
    return errorResponse(c, 409, {
      code: "EIDEMPOTENCY",
      message: `Cannot answer ${IDEMPOTENCY_KEY_HEADER} '${record.key}' again: its request ` +
        `took effect (${wrote || "nothing named"}) but its answer was lost when the kernel ` +
        "stopped; read the state instead",
    });
  }
  const response: CommandResponse = {
    status: rebuilt.status,
    body: JSON.stringify(rebuilt.body),
    headers: {
      "content-type": "application/json",
      ...(rebuilt.etag === undefined ? {} : { etag: rebuilt.etag }),
    },
  };
  await kernel.commands.finish(record, response);
  return _replay(response);
}
