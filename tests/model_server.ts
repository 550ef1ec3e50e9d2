/**
 * A loopback HTTP server that plays a model vendor for provider tests: it
 * answers each request with the next reply of its script (a JSON body, an
 * error status, or a server-sent event stream, which may hang open until the
 * client goes away) and records what it was sent. It listens on 127.0.0.1,
 * port 0, and is ended by `await using`. With `hold`, it is a slow server: each
 * request is recorded on arrival and answered only once the test lets it go.
 *
 * @module
 */

/** One scripted reply. */
export type Reply =
  /** A JSON body with a status (default 200) and headers. */
  | { status?: number; json: unknown; headers?: Record<string, string> }
  /**
   * A `text/event-stream` body of these frames (see {@linkcode sseFrame}).
   * With `hang`, the stream stays open after them until the client aborts.
   */
  | { sse: string[]; hang?: boolean };

/** One request the server received. */
export interface Recorded {
  method: string;
  path: string;
  headers: Headers;
  /** The parsed JSON body (or null). */
  body: Record<string, unknown> | null;
}

/** A running loopback model server. */
export interface ModelServer extends AsyncDisposable {
  /** `http://127.0.0.1:<port>` with no trailing slash. */
  url: string;
  /** Requests received, in order. */
  requests: Recorded[];
  /** Replies not yet used. */
  remaining(): number;
}

/** One server-sent event frame: `event: <name>` (when given) and `data: <JSON or text>`. */
export function sseFrame(data: unknown, event?: string): string {
  const text = typeof data === "string" ? data : JSON.stringify(data);
  return `${event === undefined ? "" : `event: ${event}\n`}data: ${text}\n\n`;
}

/** Options of {@linkcode startModelServer}. */
export interface ModelServerOptions {
  /**
   * Every answer waits for this promise (or for the server to close): a slow
   * server whose requests the test can count while they are held.
   */
  hold?: Promise<unknown>;
}

/**
 * Starts a server that answers with `replies` in order; a request past the
 * script gets a 599 so that a test sees it fail rather than hang.
 */
export function startModelServer(
  replies: Reply[],
  options: ModelServerOptions = {},
): ModelServer {
  const queue = [...replies];
  const requests: Recorded[] = [];
  const closing = new AbortController();
  const closed = new Promise<void>((resolve) =>
    closing.signal.addEventListener("abort", () => resolve(), { once: true })
  );
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
  }, async (req) => {
    const text = await req.text();
    let body: Record<string, unknown> | null = null;
    try {
      body = text === "" ? null : JSON.parse(text);
    } catch {
      body = null;
    }
    const url = new URL(req.url);
    requests.push({ method: req.method, path: url.pathname, headers: req.headers, body });
    const reply = queue.shift();
    if (options.hold !== undefined) await Promise.race([options.hold, closed]);
    if (reply === undefined) {
      return Response.json({ error: { message: "the test script has no more replies" } }, {
        status: 599,
      });
    }
    if ("json" in reply) {
      return Response.json(reply.json, {
        status: reply.status ?? 200,
        headers: reply.headers ?? {},
      });
    }
    const encoder = new TextEncoder();
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const frame of reply.sse) controller.enqueue(encoder.encode(frame));
        if (!reply.hang) {
          controller.close();
          return;
        }
        // Open until the client goes away (the body is cancelled) or the server closes.
        closing.signal.addEventListener("abort", () => {
          try {
            controller.close();
          } catch {
            // already closed or cancelled
          }
        }, { once: true });
      },
    });
    return new Response(stream, {
      headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
    });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    remaining: () => queue.length,
    [Symbol.asyncDispose]: async () => {
      closing.abort();
      await server.shutdown();
    },
  };
}
