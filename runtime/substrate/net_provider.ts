/**
 * The network substrate: the host side of the kernel's `net.fetch` primitive.
 * The kernel owns the decisions and hands them in as `authorize`; this
 * provider owns the host calls and makes sure that what was authorised is
 * exactly what is reached.
 *
 * For every hop (the request, then each redirect):
 *
 * 1. The URL must be http or https, without userinfo.
 * 2. `authorize(url, classifyHost(hostname))` runs first. For a name this is
 *    `{kind: "name", address: null}` (or loopback for `localhost`), so a
 *    refused name is refused before any DNS query is sent (no DNS leak).
 * 3. A name is resolved by the provider itself (`Deno.resolveDns`, A and
 *    AAAA; `localhost` and `*.localhost` to 127.0.0.1 and ::1 without DNS),
 *    and `authorize(url, address)` runs again for EVERY address it resolved
 *    to, so a name that resolves into loopback or private space meets the
 *    kernel's special-address rule.
 * 4. The connection goes to the first checked address and to no other: the
 *    request is sent through a per-hop SOCKS5 tunnel served by this provider
 *    on 127.0.0.1 (`Deno.createHttpClient({proxy: {url: "socks5h://…"}})`).
 *    Deno hands the tunnel the URL's host name, the tunnel checks it against
 *    the hop's URL and connects to the pinned address. TLS still runs end to
 *    end between Deno's fetch and the server, with the URL's host name for
 *    SNI and certificate checks, so pinning weakens nothing; and a second DNS
 *    answer (DNS rebinding) is never consulted. The tunnel demands a random
 *    per-hop password (SOCKS5 user/password auth), so another local process
 *    cannot use it, and it is closed when the hop ends.
 * 5. Redirects are followed by this provider (`redirect: "manual"`), each
 *    one a new hop through steps 1–4. On a redirect to another origin the
 *    `authorization`, `cookie` and `proxy-authorization` headers are dropped;
 *    301/302 after POST and every 303 turn into a GET without a body.
 *
 * Errors are {@linkcode LibosError}s: EINVAL for a bad URL, scheme, method or
 * header; whatever `authorize` throws (EPERM) unchanged; ENOENT for a name
 * that does not resolve; ELIMIT for a body past `maxBytes` or too many
 * redirects; ETIMEDOUT past `timeoutMs` (for the whole fetch, redirects and
 * body included); ECANCELED when `signal` aborts or the provider is disposed;
 * EUNKNOWN for a transport failure (refused connection, TLS failure, reset),
 * as for model endpoints, since a request may have gone out before it.
 *
 * @module
 */
import { classifyHost, type HostClass, normalizeHost } from "./address.ts";
import { LibosError, libosError } from "../errors.ts";

/** A request for {@linkcode NetProvider.fetch}. */
export interface NetRequest {
  /** An absolute http or https URL without userinfo. */
  url: string;
  /** The method (default "GET"). */
  method?: string;
  /** Request headers. */
  headers?: Record<string, string>;
  /** The request body (not with GET or HEAD). */
  body?: string | Uint8Array;
}

/** The answer of {@linkcode NetProvider.fetch}. */
export interface NetResponse {
  /** The final response's HTTP status. */
  status: number;
  /** The final response's headers, names in lower case, repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** The final response's body, decoded (gzip, br) as fetch decodes it. */
  body: Uint8Array;
  /** The final URL (after redirects). */
  url: string;
  /** Every URL that answered with a redirect, in order (the first is the request's URL). */
  redirects: string[];
}

/** What {@linkcode NetProvider.fetch} checks with the kernel and how far it goes. */
export interface FetchOptions {
  /**
   * The kernel's decision, called before any DNS query and before any
   * connection: once per hop with the classification of the URL's host, and,
   * for a name, once more for every address it resolved to. Throws (a
   * {@linkcode LibosError} EPERM) to refuse; the fetch then fails with that
   * error and nothing is connected.
   */
  authorize(url: URL, address: HostClass): void | Promise<void>;
  /** Cancels the fetch (ECANCELED). */
  signal?: AbortSignal;
  /** Largest response body accepted, in bytes (default 8 MiB); past it: ELIMIT. */
  maxBytes?: number;
  /** Deadline of the whole fetch, redirects and body included (default 30000 ms); past it: ETIMEDOUT. */
  timeoutMs?: number;
  /** Most redirects followed (default 5); one more: ELIMIT. */
  maxRedirects?: number;
}

/** Resolves a name to IP address literals (A and AAAA records). */
export type Resolver = (name: string, options: { signal: AbortSignal }) => Promise<string[]>;

/** Options of {@linkcode NetProvider}. */
export interface NetProviderOptions {
  /** Name resolution (default: `Deno.resolveDns`, A then AAAA). Tests inject a fake. */
  resolve?: Resolver;
  /** Root certificates (PEM) trusted in addition to the system's (default none). */
  caCerts?: string[];
}

/** Default of {@linkcode FetchOptions.maxBytes}: 8 MiB. */
export const DEFAULT_FETCH_MAX_BYTES = 8 * 1024 * 1024;
/** Default of {@linkcode FetchOptions.timeoutMs}: 30 s. */
export const DEFAULT_FETCH_TIMEOUT_MS = 30_000;
/** Default of {@linkcode FetchOptions.maxRedirects}: 5. */
export const DEFAULT_MAX_REDIRECTS = 5;

const _REDIRECTS = new Set([301, 302, 303, 307, 308]);
const _CREDENTIAL_HEADERS = ["authorization", "cookie", "proxy-authorization"];

/** HTTP(S) requests that reach only addresses the kernel authorised. */
export class NetProvider {
  readonly #resolve: Resolver;
  readonly #caCerts: string[];
  readonly #inFlight = new Set<{ abort: AbortController; done: Promise<unknown> }>();
  #disposed = false;

  constructor(options: NetProviderOptions = {}) {
    this.#resolve = options.resolve ?? _resolveDns;
    this.#caCerts = options.caCerts ?? [];
  }

  /** Performs one request, following redirects, under the kernel's `authorize`. */
  async fetch(request: NetRequest, options: FetchOptions): Promise<NetResponse> {
    const target = _display(String(request.url));
    if (this.#disposed) {
      throw libosError("ECANCELED", `Cannot fetch '${target}': the provider is closed`);
    }
    const maxBytes = _limit(options.maxBytes, DEFAULT_FETCH_MAX_BYTES, "maxBytes");
    const timeoutMs = _limit(options.timeoutMs, DEFAULT_FETCH_TIMEOUT_MS, "timeoutMs");
    const maxRedirects = _limit(options.maxRedirects, DEFAULT_MAX_REDIRECTS, "maxRedirects");
    const abort = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort(new DOMException("the deadline passed", "TimeoutError"));
    }, timeoutMs);
    const onCancel = () => abort.abort(options.signal?.reason);
    if (options.signal?.aborted) abort.abort(options.signal.reason);
    options.signal?.addEventListener("abort", onCancel, { once: true });
    const done = this.#follow(request, options, { maxBytes, maxRedirects, signal: abort.signal });
    const entry = { abort, done };
    this.#inFlight.add(entry);
    try {
      return await done;
    } catch (error) {
      if (abort.signal.aborted && !_refusals.has(error as object)) {
        if (timedOut) {
          throw libosError(
            "ETIMEDOUT",
            `Cannot fetch '${target}': no complete answer within ${timeoutMs} ms`,
            { url: target },
          );
        }
        throw libosError("ECANCELED", `Cannot fetch '${target}': the fetch was cancelled`, {
          url: target,
        });
      }
      throw error;
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onCancel);
      this.#inFlight.delete(entry);
    }
  }

  /** Cancels every fetch in flight (ECANCELED) and refuses new ones. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#disposed = true;
    const pending = [...this.#inFlight];
    for (const entry of pending) entry.abort.abort(new DOMException("closed", "AbortError"));
    await Promise.allSettled(pending.map((entry) => entry.done));
  }

  async #follow(
    request: NetRequest,
    options: FetchOptions,
    limits: { maxBytes: number; maxRedirects: number; signal: AbortSignal },
  ): Promise<NetResponse> {
    let url = _parseUrl(String(request.url));
    let method = (request.method ?? "GET").toUpperCase();
    const headers = new Headers();
    try {
      for (const [name, value] of Object.entries(request.headers ?? {})) headers.set(name, value);
      // Validates method and body against each other (GET with a body, CONNECT, …).
      new Request(url, _init(method, headers, request.body));
    } catch (error) {
      throw libosError("EINVAL", `Cannot fetch '${url.href}': ${(error as Error).message}`, {
        url: url.href,
      });
    }
    let body = request.body;
    const redirects: string[] = [];
    for (let hop = 0;; hop++) {
      const address = await this.#authorize(url, options, limits.signal);
      const answer = await this.#hop(url, address, _init(method, headers, body), limits);
      const location = answer.headers["location"];
      if (!_REDIRECTS.has(answer.status) || location === undefined) {
        return { ...answer, url: url.href, redirects };
      }
      if (hop >= limits.maxRedirects) {
        throw libosError(
          "ELIMIT",
          `Cannot fetch '${
            _display(String(request.url))
          }': more than ${limits.maxRedirects} redirects`,
          { url: url.href, redirects: [...redirects, url.href] },
        );
      }
      redirects.push(url.href);
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw libosError(
          "EINVAL",
          `Cannot fetch '${url.href}': the redirect to '${location}' is not a URL`,
          { url: url.href },
        );
      }
      next = _parseUrl(next.href);
      if (
        answer.status === 303 ||
        ((answer.status === 301 || answer.status === 302) && method === "POST")
      ) {
        if (method !== "HEAD") method = "GET";
        body = undefined;
        headers.delete("content-type");
        headers.delete("content-length");
      }
      if (next.origin !== url.origin) {
        for (const name of _CREDENTIAL_HEADERS) headers.delete(name);
      }
      url = next;
    }
  }

  /**
   * Decides and resolves a URL's host exactly as a fetch's hop does
   * (`authorize` on the host, then on every address a name resolves to) and
   * answers the address to connect to, connecting nothing: the kernel's
   * proxy for sandboxed programs uses it per connection.
   */
  resolve(
    url: URL,
    options: Pick<FetchOptions, "authorize"> & { signal?: AbortSignal },
  ): Promise<string> {
    return this.#authorize(
      url,
      { authorize: options.authorize },
      options.signal ?? new AbortController().signal,
    );
  }

  /** Runs `authorize` for the host, resolves a name, authorises every address; returns the one to connect to. */
  async #authorize(url: URL, options: FetchOptions, signal: AbortSignal): Promise<string> {
    const host = classifyHost(url.hostname);
    await _authorizeOnce(options, url, host);
    if (host.address !== null) return host.address;
    const name = normalizeHost(url.hostname);
    let found: string[];
    if (host.kind === "loopback") {
      found = ["127.0.0.1", "::1"];
    } else {
      try {
        found = await this.#resolve(name, { signal });
      } catch (error) {
        if (signal.aborted) throw error;
        throw libosError(
          "ENOENT",
          `Cannot fetch '${url.href}': the name '${name}' does not resolve`,
          { url: url.href },
          error,
        );
      }
    }
    const addresses: HostClass[] = [];
    for (const literal of found) {
      let address: HostClass;
      try {
        address = classifyHost(literal);
      } catch (error) {
        throw libosError(
          "EINTERNAL",
          `Cannot fetch '${url.href}': the resolver answered '${literal}'`,
          { url: url.href },
          error,
        );
      }
      if (address.address === null) {
        throw libosError(
          "EINTERNAL",
          `Cannot fetch '${url.href}': the resolver answered a name, '${literal}'`,
          { url: url.href },
        );
      }
      if (!addresses.some((a) => a.address === address.address)) addresses.push(address);
    }
    if (addresses.length === 0) {
      throw libosError(
        "ENOENT",
        `Cannot fetch '${url.href}': the name '${name}' has no addresses`,
        { url: url.href },
      );
    }
    for (const address of addresses) await _authorizeOnce(options, url, address);
    return (addresses[0] as HostClass & { address: string }).address;
  }

  /** One request to `address` through a pinned tunnel; the body is read here, under the cap. */
  async #hop(
    url: URL,
    address: string,
    init: RequestInit,
    limits: { maxBytes: number; signal: AbortSignal },
  ): Promise<{ status: number; headers: Record<string, string>; body: Uint8Array }> {
    const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
    await using tunnel = new _PinnedTunnel({ hostname: url.hostname, port, address });
    const client = Deno.createHttpClient({
      caCerts: this.#caCerts,
      proxy: {
        url: `socks5h://127.0.0.1:${tunnel.port}`,
        basicAuth: { username: _TUNNEL_USER, password: tunnel.password },
      },
      poolMaxIdlePerHost: 0,
    });
    try {
      let response: Response;
      try {
        response = await fetch(url, { ...init, client, redirect: "manual", signal: limits.signal });
      } catch (error) {
        if (limits.signal.aborted) throw error;
        const reason = tunnel.failure ??
          (error instanceof Error ? _transportReason(error) : String(error));
        throw libosError("EUNKNOWN", `Cannot fetch '${url.href}': ${reason}`, {
          url: url.href,
          address,
        });
      }
      const headers: Record<string, string> = {};
      response.headers.forEach((value, name) => {
        const had = headers[name];
        headers[name] = had === undefined ? value : `${had}, ${value}`;
      });
      if (_REDIRECTS.has(response.status) && headers["location"] !== undefined) {
        await response.body?.cancel().catch(() => {});
        return { status: response.status, headers, body: new Uint8Array(0) };
      }
      const body = await _readCapped(response, url, limits);
      return { status: response.status, headers, body };
    } finally {
      client.close();
    }
  }
}

async function _authorizeOnce(options: FetchOptions, url: URL, address: HostClass): Promise<void> {
  try {
    await options.authorize(new URL(url.href), { ...address });
  } catch (error) {
    if (typeof error === "object" && error !== null) _refusals.add(error);
    throw error;
  }
}

/** Errors thrown by `authorize`: never reported as a timeout or a cancellation. */
const _refusals = new WeakSet<object>();

async function _readCapped(
  response: Response,
  url: URL,
  limits: { maxBytes: number; signal: AbortSignal },
): Promise<Uint8Array> {
  const tooBig = () =>
    libosError(
      "ELIMIT",
      `Cannot fetch '${url.href}': the response body exceeds ${limits.maxBytes} bytes`,
      {
        url: url.href,
        maxBytes: limits.maxBytes,
      },
    );
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (response.body === null) return new Uint8Array(0);
  if (declared > limits.maxBytes && !response.headers.has("content-encoding")) {
    await response.body.cancel().catch(() => {});
    throw tooBig();
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > limits.maxBytes) {
        await reader.cancel().catch(() => {});
        throw tooBig();
      }
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof LibosError || limits.signal.aborted) throw error;
    throw libosError(
      "EUNKNOWN",
      `Cannot fetch '${url.href}': the body broke off: ${_transportReason(error as Error)}`,
      { url: url.href },
    );
  } finally {
    reader.releaseLock();
  }
  const body = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.byteLength;
  }
  return body;
}

function _init(
  method: string,
  headers: Headers,
  body: string | Uint8Array | undefined,
): RequestInit {
  const init: RequestInit = { method, headers };
  if (body !== undefined) init.body = typeof body === "string" ? body : body.slice();
  return init;
}

function _parseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw libosError("EINVAL", `Cannot fetch '${text}': it is not an absolute URL`, { url: text });
  }
  const shown = _display(url.href);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw libosError("EINVAL", `Cannot fetch '${shown}': only http and https URLs are supported`, {
      url: shown,
    });
  }
  if (url.username !== "" || url.password !== "") {
    throw libosError(
      "EINVAL",
      `Cannot fetch '${shown}': a URL with credentials (userinfo) is refused`,
      {
        url: shown,
      },
    );
  }
  return url;
}

/** A URL as messages show it: never with its userinfo. */
function _display(text: string): string {
  try {
    const url = new URL(text);
    url.username = "";
    url.password = "";
    return url.href;
  } catch {
    return text;
  }
}

function _limit(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`Cannot fetch: ${name} must be a non-negative integer, got ${value}`);
  }
  return value;
}

/** The innermost message of a fetch failure ("connection refused", "invalid peer certificate: …"). */
function _transportReason(error: Error): string {
  let reason = error.message;
  let cause: unknown = error.cause;
  for (let depth = 0; depth < 5 && cause instanceof Error; depth++) {
    reason = cause.message;
    cause = cause.cause;
  }
  return reason;
}

async function _resolveDns(name: string, options: { signal: AbortSignal }): Promise<string[]> {
  const answers = await Promise.allSettled([
    Deno.resolveDns(name, "A", { signal: options.signal }),
    Deno.resolveDns(name, "AAAA", { signal: options.signal }),
  ]);
  const found = answers.flatMap((a) => (a.status === "fulfilled" ? a.value : []));
  if (found.length === 0) {
    const failure = answers.find((a) => a.status === "rejected");
    if (failure !== undefined) throw failure.reason;
  }
  return found;
}

const _TUNNEL_USER = "libos";

/**
 * A one-hop SOCKS5 server on 127.0.0.1 that accepts only its own password,
 * only a CONNECT to the hop's host and port, and connects it to the pinned
 * address, whatever DNS would say now.
 */
class _PinnedTunnel {
  /** The per-hop password (128 random bits). */
  readonly password = crypto.randomUUID();
  /** Why the last connection attempt failed, if it did. */
  failure: string | null = null;
  readonly #listener: Deno.Listener;
  readonly #target: { host: string; port: number; address: string };
  readonly #conns = new Set<Deno.Conn>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #accepting: Promise<void>;
  /** Aborts a connection attempt still pending when the hop ends. */
  readonly #closing = new AbortController();

  constructor(target: { hostname: string; port: number; address: string }) {
    this.#target = {
      host: normalizeHost(target.hostname),
      port: target.port,
      address: target.address,
    };
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#accepting = this.#accept();
  }

  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  async #accept(): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch {
        return; // closed
      }
      this.#conns.add(conn);
      const task = this.#serve(conn).catch(() => {}).finally(() => {
        _close(conn);
        this.#conns.delete(conn);
        this.#tasks.delete(task);
      });
      this.#tasks.add(task);
    }
  }

  async #serve(client: Deno.Conn): Promise<void> {
    // Greeting: VER 5, NMETHODS, METHODS; only user/password (2) is accepted.
    const greeting = await _readN(client, 2);
    const methods = await _readN(client, greeting[1] ?? 0);
    if (greeting[0] !== 5 || !methods.includes(2)) {
      await client.write(new Uint8Array([5, 0xff]));
      return;
    }
    await client.write(new Uint8Array([5, 2]));
    const authHead = await _readN(client, 2);
    const user = _text(await _readN(client, authHead[1] ?? 0));
    const passLength = await _readN(client, 1);
    const pass = _text(await _readN(client, passLength[0] ?? 0));
    if (authHead[0] !== 1 || user !== _TUNNEL_USER || pass !== this.password) {
      await client.write(new Uint8Array([1, 1]));
      return;
    }
    await client.write(new Uint8Array([1, 0]));
    // Request: VER 5, CMD 1 (CONNECT), RSV, ATYP, DST.ADDR, DST.PORT.
    const head = await _readN(client, 4);
    let host: string;
    if (head[3] === 3) {
      const length = await _readN(client, 1);
      host = _text(await _readN(client, length[0] ?? 0));
    } else if (head[3] === 1) {
      host = Array.from(await _readN(client, 4)).join(".");
    } else if (head[3] === 4) {
      const raw = await _readN(client, 16);
      const groups: string[] = [];
      for (let i = 0; i < 16; i += 2) {
        groups.push((((raw[i] ?? 0) << 8) | (raw[i + 1] ?? 0)).toString(16));
      }
      host = groups.join(":");
    } else {
      return;
    }
    const portBytes = await _readN(client, 2);
    const port = ((portBytes[0] ?? 0) << 8) | (portBytes[1] ?? 0);
    let same = false;
    try {
      same = head[1] === 1 && normalizeHost(host) === this.#target.host &&
        port === this.#target.port;
    } catch {
      same = false;
    }
    if (!same) {
      // 0x02: connection not allowed by ruleset.
      this.failure =
        `the connection asked for '${host}:${port}', not the authorised '${this.#target.host}:${this.#target.port}'`;
      await client.write(new Uint8Array([5, 2, 0, 1, 0, 0, 0, 0, 0, 0]));
      return;
    }
    let upstream: Deno.Conn;
    try {
      upstream = await Deno.connect({
        hostname: this.#target.address,
        port,
        autoSelectFamily: false,
        signal: this.#closing.signal,
      });
    } catch (error) {
      this.failure = `cannot connect to ${_hostPort(this.#target.address, port)}: ${
        (error as Error).message
      }`;
      await client.write(new Uint8Array([5, 5, 0, 1, 0, 0, 0, 0, 0, 0]));
      return;
    }
    this.#conns.add(upstream);
    try {
      await client.write(new Uint8Array([5, 0, 0, 1, 0, 0, 0, 0, 0, 0]));
      await Promise.allSettled([_pump(client, upstream), _pump(upstream, client)]);
    } finally {
      _close(upstream);
      this.#conns.delete(upstream);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#closing.abort();
    _close(this.#listener);
    for (const conn of this.#conns) _close(conn);
    await this.#accepting;
    await Promise.allSettled([...this.#tasks]);
  }
}

/** Copies bytes until EOF or an error, then half-closes the destination. */
async function _pump(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const n = await from.read(buffer);
      if (n === null) break;
      let at = 0;
      while (at < n) at += await to.write(buffer.subarray(at, n));
    }
    await to.closeWrite().catch(() => {});
  } catch {
    _close(from);
    _close(to);
  }
}

async function _readN(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let at = 0;
  while (at < n) {
    const read = await conn.read(out.subarray(at));
    if (read === null) throw new Error("the peer closed the connection");
    at += read;
  }
  return out;
}

function _close(resource: { close(): void }): void {
  try {
    resource.close();
  } catch {
    // already closed
  }
}

function _text(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

function _hostPort(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}
