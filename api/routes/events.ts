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
import { EventsQuery } from "../schemas.ts";
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
    "server stops.",
  request: { query: EventsQuery },
  responses: {
    200: {
      description: "An event stream",
      content: { "text/event-stream": { schema: z.string() } },
    },
    503: {
      description: "Too many open event streams",
      content: { "application/json": { schema: z.object({ error: z.unknown() }) } },
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
    if (hub.listeners >= limits.maxEventStreams) {
      return errorResponse(c, 503, {
        code: "ELIMIT",
        message: `Cannot open an event stream: ${limits.maxEventStreams} are open`,
      });
    }
    return eventStream(hub, {
      lastEventId: c.req.header("last-event-id"),
      pids: _list(q.pid),
      types: types as Set<EventType> | null,
      heartbeatMs: limits.heartbeatMs,
    });
  });
}

function _list(value: string | undefined): Set<string> | null {
  if (value === undefined) return null;
  const items = value.split(",").map((s) => s.trim()).filter((s) => s !== "");
  return items.length === 0 ? null : new Set(items);
}
