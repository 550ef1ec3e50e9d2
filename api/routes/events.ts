/**
 * `GET /v1/events`: the server-sent event stream of process state changes,
 * human requests and audit appends, resumable with `Last-Event-ID`,
 * filterable by pid and type.
 *
 * @module
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { ApiEnv } from "../context.ts";
import { EVENT_TYPES, type EventType } from "../event_hub.ts";
import { errorResponse } from "../http_errors.ts";
import { apiRoute } from "../route_def.ts";
import { ErrorSchema, EventsQuery } from "../schemas.ts";
import { eventStream } from "../sse.ts";

const events = apiRoute("viewer", {
  method: "get",
  path: "/v1/events",
  tags: ["events"],
  summary: "Server-sent events: process, human, audit (ids resume with Last-Event-ID)",
  description: "Each event has an id `<boot>-<n>`, a type (process, human, audit) and JSON data. " +
    "The stream opens with a `ready` event; a Last-Event-ID this server cannot replay from " +
    "(another boot, or older than its buffer) gets a `reset` event: reload the state. " +
    "A client that reads too slowly gets `overflow` and the stream ends; `shutdown` when the " +
    "server stops. One token may hold a limited number of open streams (429 past it), and the " +
    "last streams of the server's cap are kept for admin tokens (503 for others). In a cluster " +
    "the stream also carries the process state changes (with `kernel`, the owner) and human " +
    "requests of the other kernels' processes (docs/cluster.md).",
  request: { query: EventsQuery },
  responses: {
    200: {
      description: "An event stream",
      content: { "text/event-stream": { schema: z.string() } },
    },
    429: {
      description: "This token has its limit of open event streams (maxEventStreamsPerToken)",
      content: { "application/json": { schema: ErrorSchema } },
    },
    503: {
      description: "Too many open event streams (the last adminEventStreams are for admin tokens)",
      content: { "application/json": { schema: ErrorSchema } },
    },
  },
}, [400]);

/** Registers the event stream route. */
export function eventRoutes(app: OpenAPIHono<ApiEnv>): void {
  app.openapi(events, (c) => {
    const q = c.req.valid("query");
    const { events: hub, limits } = c.var.ctx;
    const types = _list(q.types);
    for (const t of types ?? []) {
      if (!(EVENT_TYPES as readonly string[]).includes(t)) {
        return errorResponse(c, 400, {
          code: "EINVAL",
          message: `Cannot stream events of type '${t}': expected ${EVENT_TYPES.join(", ")}`,
        });
      }
    }
    const { id, name, role } = c.var.principal;
    const mine = hub.listenersOf(id);
    if (mine >= limits.maxEventStreamsPerToken) {
      return errorResponse(c, 429, {
        code: "ELIMIT",
        message:
          `Cannot open an event stream: the token '${name}' has ${mine} open, its limit (maxEventStreamsPerToken ${limits.maxEventStreamsPerToken})`,
      });
    }
    if (hub.listeners >= limits.maxEventStreams) {
      return errorResponse(c, 503, {
        code: "ELIMIT",
        message:
          `Cannot open an event stream: ${hub.listeners} are open, the server's limit (maxEventStreams ${limits.maxEventStreams})`,
      });
    }
    const shared = limits.maxEventStreams - limits.adminEventStreams;
    if (role !== "admin" && hub.listeners >= shared) {
      return errorResponse(c, 503, {
        code: "ELIMIT",
        message:
          `Cannot open an event stream: ${hub.listeners} are open, and the last ${limits.adminEventStreams} of the server's ${limits.maxEventStreams} are kept for admin tokens (the token '${name}' has role ${role})`,
      });
    }
    // Checked and opened with no await between: the counts cannot move meanwhile.
    return hub.openAs(id, () =>
      eventStream(hub, {
        lastEventId: c.req.header("last-event-id"),
        pids: _list(q.pid),
        types: types as Set<EventType> | null,
        heartbeatMs: limits.heartbeatMs,
      }));
  });
}

function _list(value: string | undefined): Set<string> | null {
  if (value === undefined) return null;
  const items = value.split(",").map((s) => s.trim()).filter((s) => s !== "");
  return items.length === 0 ? null : new Set(items);
}
