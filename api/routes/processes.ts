/**
 * Processes: spawn, list, read, long-poll, signal, fork.
 *
 * @module
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { ApiEnv } from "../context.ts";
import { actorOf } from "../context.ts";
import { apiRoute, jsonBody, jsonResponse } from "../route_def.ts";
import {
  ForkBodySchema,
  IfMatchHeaders,
  PidParams,
  ProcessListQuery,
  ProcessSchema,
  Revision,
  SignalBodySchema,
  SpawnBodySchema,
  WaitQuery,
} from "../schemas.ts";
import { checkIfMatch, etag, withRevision } from "../revision.ts";
import { bodyText } from "../../runtime/mod.ts";
import { listClusterProcesses, waitProcess } from "../process_queries.ts";
import { findProcess } from "../cluster_reach.ts";
import { byPid } from "../owner_routing.ts";
import { placeSpawn } from "../placement.ts";

const tag = ["processes"];

const spawn = apiRoute("operator", {
  method: "post",
  path: "/v1/processes",
  tags: tag,
  summary: "Spawn a process from a registered image id or an inline image, on the live kernel " +
    "with the fewest live processes (docs/cluster.md)",
  request: { body: jsonBody(SpawnBodySchema) },
  responses: {
    201: jsonResponse(
      z.object({ pid: z.string(), process: ProcessSchema }),
      "The process, runnable",
    ),
  },
}, [400, 404, 409, 413, 422, 504]);

const list = apiRoute("viewer", {
  method: "get",
  path: "/v1/processes",
  tags: tag,
  summary: "List processes of the whole cluster, optionally by state and parent",
  request: { query: ProcessListQuery },
  responses: {
    200: jsonResponse(
      z.object({ processes: z.array(ProcessSchema.extend(Revision)) }),
      "Processes by pid",
    ),
  },
}, [400]);

const get = apiRoute("viewer", {
  method: "get",
  path: "/v1/processes/{pid}",
  tags: tag,
  summary: "One process descriptor",
  request: { params: PidParams },
  responses: { 200: jsonResponse(ProcessSchema.extend(Revision), "The process") },
}, [400, 404]);

const wait = apiRoute("viewer", {
  method: "get",
  path: "/v1/processes/{pid}/wait",
  tags: tag,
  summary: "Long-poll until the process is terminal or waiting (or the timeout passes)",
  request: { params: PidParams, query: WaitQuery },
  responses: {
    200: jsonResponse(
      z.object({
        process: ProcessSchema,
        timedOut: z.boolean().openapi({ description: "true when the state is not yet settled" }),
      }),
      "The process as of when it settled or the timeout passed",
    ),
  },
}, [400, 404]);

const signal = apiRoute(
  "operator",
  {
    method: "post",
    path: "/v1/processes/{pid}/signal",
    tags: tag,
    summary:
      "Pause, resume, cancel or kill a process (and its subtree); another kernel's process " +
      "through its owner (docs/cluster.md)",
    request: { params: PidParams, headers: IfMatchHeaders, body: jsonBody(SignalBodySchema) },
    responses: {
      200: jsonResponse(ProcessSchema.extend(Revision), "The process after the signal"),
    },
  },
  [400, 404, 409, 412, 413],
  { owner: byPid },
);

const fork = apiRoute(
  "operator",
  {
    method: "post",
    path: "/v1/processes/{pid}/fork",
    tags: tag,
    summary: "Fork a process: same image, cwd and tools; only the named grants (a subset); " +
      "another kernel's process by its owner (docs/cluster.md)",
    request: { params: PidParams, body: jsonBody(ForkBodySchema) },
    responses: {
      201: jsonResponse(z.object({ pid: z.string(), process: ProcessSchema }), "The child"),
    },
  },
  [400, 403, 404, 409, 413, 422],
  { owner: byPid },
);

/** Registers the process routes. */
export function processRoutes(app: OpenAPIHono<ApiEnv>): void {
  app.openapi(spawn, async (c) => {
    const body = c.req.valid("json");
    const { kernel, forwarder } = c.var.ctx;
    const request = {
      image: body.image,
      goal: body.goal,
      ...(body.capabilities === undefined ? {} : { capabilities: body.capabilities }),
      ...(body.cwd === undefined ? {} : { cwd: body.cwd }),
    };
    const actor = actorOf(c.var.principal);
    const there = await placeSpawn(kernel);
    if (there !== null) {
      const command = c.get("command") ?? null;
      const placed = await forwarder.spawn(there, request, { actor, command });
      if (command !== null) c.set("commandAnswered", true);
      return c.json(placed, 201);
    }
    const p = await kernel.spawn(request, actor);
    return c.json({ pid: p.pid, process: p }, 201);
  });

  app.openapi(list, async (c) => {
    const q = c.req.valid("query");
    const processes = await listClusterProcesses(c.var.ctx.kernel, {
      ...(q.state === undefined ? {} : { state: q.state }),
      ...(q.parent === undefined ? {} : { parent: q.parent }),
    });
    return c.json({ processes }, 200);
  });

  app.openapi(get, async (c) => {
    const p = withRevision(await findProcess(c.var.ctx.kernel, c.req.valid("param").pid));
    return c.json(p, 200, { etag: etag(p.revision) });
  });

  app.openapi(wait, async (c) => {
    const q = c.req.valid("query");
    const answer = await waitProcess(c.var.ctx, c.req.valid("param").pid, {
      ...(q.timeoutMs === undefined ? {} : { timeoutMs: q.timeoutMs }),
      ...(q.until === undefined ? {} : { until: q.until }),
      signal: c.req.raw.signal,
    });
    return c.json(answer, 200);
  });

  app.openapi(signal, async (c) => {
    const { pid } = c.req.valid("param");
    const { signal } = c.req.valid("json");
    checkIfMatch(c.req.header("if-match"), c.var.ctx.kernel.get(pid));
    const p = withRevision(await c.var.ctx.kernel.signal(pid, signal, actorOf(c.var.principal)));
    return c.json(p, 200, { etag: etag(p.revision) });
  });

  app.openapi(fork, async (c) => {
    const { pid } = c.req.valid("param");
    const body = c.req.valid("json");
    const { kernel } = c.var.ctx;
    const parent = kernel.get(pid);
    const child = await kernel.fork(pid, {
      goal: body.goal ?? bodyText(parent.goal),
      capabilities: body.capabilities,
      ...(body.objects === undefined ? {} : { objects: body.objects }),
    }, actorOf(c.var.principal));
    return c.json({ pid: child.pid, process: child }, 201);
  });
}
