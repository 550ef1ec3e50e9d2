/**
 * Serving a control plane with `Deno.serve`, and shutting it down cleanly:
 * event streams and long polls end first (they would otherwise hold the
 * server open), then the server finishes the requests in flight.
 *
 * @module
 */
import type { ControlPlane } from "./control_plane.ts";

/** Options of {@linkcode serveControlPlane}. */
export interface ServeOptions {
  /** Port to listen on (default 8787; 0 picks a free one). */
  port?: number;
  /** Interface to listen on (default 127.0.0.1). */
  hostname?: string;
}

/** A listening control plane. */
export interface ApiServer extends AsyncDisposable {
  /** The address it listens on. */
  readonly addr: Deno.NetAddr;
  /** `http://host:port`. */
  readonly url: string;
  /** Ends streams and long polls, then stops the server. */
  shutdown(): Promise<void>;
  /** Resolves when the server has stopped. */
  readonly finished: Promise<void>;
}

/** Serves the control plane; resolves once it listens. */
export function serveControlPlane(plane: ControlPlane, options: ServeOptions = {}): ApiServer {
  const server = Deno.serve({
    port: options.port ?? 8787,
    hostname: options.hostname ?? "127.0.0.1",
    onListen: () => {},
  }, plane.fetch);
  const addr = server.addr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  let stopping: Promise<void> | null = null;
  const shutdown = () => {
    stopping ??= (async () => {
      plane.close();
      await server.shutdown();
    })();
    return stopping;
  };
  return {
    addr,
    url: `http://${host}:${addr.port}`,
    shutdown,
    finished: server.finished,
    [Symbol.asyncDispose]: shutdown,
  };
}
