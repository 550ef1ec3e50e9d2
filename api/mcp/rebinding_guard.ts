/**
 * DNS-rebinding protection for `/mcp`: a page on another site whose name
 * has been made to resolve to this machine reaches the server with its own
 * name in `Host` (and in `Origin`). A request whose `Host` is not one of the
 * allowed host names, or whose `Origin` (when sent) is not `http(s)://` one
 * of them, is answered `403` `EPERM` naming the header, before any token is
 * looked at. By default only the loopback names are allowed.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { ApiEnv } from "../context.ts";
import { errorResponse } from "../http_errors.ts";

/** The host names allowed by default: loopback only. */
export const LOOPBACK_HOSTS: readonly string[] = ["localhost", "127.0.0.1", "[::1]"];

/**
 * The host names `/mcp` allows for an API listening on `hostname`: the
 * loopback names, plus that address when it is a specific one (not the
 * wildcard `0.0.0.0` or `::`, which names no host a client would use).
 */
export function allowedHostsFor(hostname: string): string[] {
  const name = (hostname.includes(":") ? `[${hostname}]` : hostname).toLowerCase();
  const wildcard = name === "0.0.0.0" || name === "[::]" || name === "";
  return wildcard || LOOPBACK_HOSTS.includes(name)
    ? [...LOOPBACK_HOSTS]
    : [...LOOPBACK_HOSTS, name];
}

/**
 * The host name of a `Host` header value or an origin's authority, lower
 * case, without the port (IPv6 kept in brackets); null when malformed.
 */
export function hostNameOf(authority: string): string | null {
  if (!/^[^\s/?#@\\]+$/.test(authority)) return null;
  try {
    return new URL(`http://${authority}`).hostname;
  } catch {
    return null;
  }
}

/** The middleware: `allowedHosts` are host names without ports (`localhost`, `[::1]`, `libos.lan`). */
export function rebindingGuard(allowedHosts: readonly string[]): MiddlewareHandler<ApiEnv> {
  const allowed = new Set(allowedHosts.map((h) => h.toLowerCase()));
  const refuse = (c: Parameters<MiddlewareHandler<ApiEnv>>[0], header: string, value: string) =>
    errorResponse(c, 403, {
      code: "EPERM",
      message: `Cannot serve /mcp: the ${header} '${
        value.slice(0, 200)
      }' is not an allowed host (allowed: ${[...allowed].join(", ")})`,
    });
  return async (c, next) => {
    // Deno.serve builds the URL from the Host header; an in-process request has only the URL.
    const host = c.req.header("host") ?? new URL(c.req.url).host;
    const hostName = hostNameOf(host);
    if (hostName === null || !allowed.has(hostName)) return refuse(c, "Host", host);
    const origin = c.req.header("origin");
    if (origin !== undefined) {
      const m = /^https?:\/\/([^/]+)$/i.exec(origin);
      const originHost = m === null ? null : hostNameOf(m[1]!);
      if (originHost === null || !allowed.has(originHost)) return refuse(c, "Origin", origin);
    }
    await next();
  };
}
