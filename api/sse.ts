/**
 * One server-sent-event stream over the {@linkcode EventHub}: replay after
 * `Last-Event-ID`, then live events, filtered by pid and type, with a
 * heartbeat comment. A client that stops reading is cut off once too much is
 * queued for it (it reconnects and resumes from its last id), so a slow
 * client never grows the server's memory without bound.
 *
 * @module
 */
import type { EventHub, EventType, HubEvent } from "./event_hub.ts";

/** Options of {@linkcode eventStream}. */
export interface EventStreamOptions {
  /** The `Last-Event-ID` the client sent, if any. */
  lastEventId?: string | undefined;
  /** Only events about these pids (default: every event). */
  pids?: ReadonlySet<string> | null;
  /** Only these types (default: every type). */
  types?: ReadonlySet<EventType> | null;
  /** Interval of the `: ping` comment (default 15,000 ms). */
  heartbeatMs?: number;
  /** Frames queued for a client that does not read before it is cut off (default 2,000). */
  maxQueued?: number;
  /** Reconnection delay suggested to the client (default 2,000 ms). */
  retryMs?: number;
}

/**
 * A `text/event-stream` response. It starts with a `ready` event (no id)
 * carrying the newest id; after a `Last-Event-ID` from another boot or older
 * than the hub's ring it sends a `reset` event instead of a replay, telling
 * the client to reload its state.
 */
export function eventStream(hub: EventHub, options: EventStreamOptions = {}): Response {
  const pids = options.pids ?? null;
  const types = options.types ?? null;
  const maxQueued = options.maxQueued ?? 2_000;
  const encoder = new TextEncoder();
  const wanted = (e: HubEvent) =>
    (types === null || types.has(e.type)) && (pids === null || (e.pid !== null && pids.has(e.pid)));
  let cleanup = () => {};
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      let open = true;
      // The replay is bounded by the hub's ring; live frames by `maxQueued`.
      const send = (text: string, live = true) => {
        if (!open) return;
        if (live && (controller.desiredSize ?? 0) < -maxQueued) {
          end(
            `event: overflow\ndata: {"reason":"the client read too slowly; resume with Last-Event-ID"}\n\n`,
          );
          return;
        }
        controller.enqueue(encoder.encode(text));
      };
      const end = (last?: string) => {
        if (!open) return;
        if (last !== undefined) controller.enqueue(encoder.encode(last));
        open = false;
        cleanup();
        controller.close();
      };
      if (hub.closed) {
        controller.close();
        return;
      }
      send(`retry: ${options.retryMs ?? 2_000}\n`, false);
      send(`event: ready\ndata: ${JSON.stringify({ lastId: hub.lastId })}\n\n`, false);
      if (options.lastEventId !== undefined && options.lastEventId !== "") {
        const replay = hub.since(options.lastEventId);
        if (replay.kind === "gap") {
          send(
            `event: reset\ndata: ${
              JSON.stringify({
                reason: "events since that id are not available; reload the state",
                lastId: hub.lastId,
              })
            }\n\n`,
            false,
          );
        } else {
          for (const e of replay.events) if (wanted(e)) send(e.frame, false);
        }
      }
      const sub = hub.listen((e) => {
        if (wanted(e)) send(e.frame);
      }, () => end(`event: shutdown\ndata: {}\n\n`));
      const beat = setInterval(() => send(": ping\n\n"), options.heartbeatMs ?? 15_000);
      cleanup = () => {
        clearInterval(beat);
        sub[Symbol.dispose]();
      };
    },
    cancel() {
      cleanup();
    },
  }, { highWaterMark: 1 });
  return new Response(body, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      "x-accel-buffering": "no",
    },
  });
}
