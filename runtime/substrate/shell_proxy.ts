/**
 * The shell network proxy: the only way a `shell.run` program reaches the
 * network. The sandbox never shares the host's network namespace; a run
 * with a proxy gets the proxy's unix socket bound into the sandbox and a
 * relay (shell_relay.ts, run by the Deno binary inside the sandbox) that
 * listens on `127.0.0.1:`{@linkcode SANDBOX_PROXY_PORT} there and forwards
 * each connection to the socket; the program's environment names that
 * address in `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY` and their lowercase
 * forms.
 *
 * {@linkcode ShellNetProxy} runs on the kernel's side and speaks HTTP/1.x:
 *
 * - `CONNECT host:port` (for https and any other TCP protocol): answered
 *   `200 Connection established`, then bytes are relayed both ways;
 * - a plain-HTTP request with an absolute URI (`GET http://host:port/path`):
 *   forwarded to the origin with the request line in origin form, `Host` set
 *   to the URI's authority (whatever the client wrote), the `Proxy-*`,
 *   `Connection` and `Keep-Alive` headers dropped and `Connection: close`
 *   added, so one client connection carries one request to one authorised
 *   origin; then bytes are relayed both ways (a body as it comes). Bytes a
 *   client sends after its first request still go only to that origin.
 *
 * Each connection is decided by `authorize({host, port})` before anything is
 * sent anywhere: the kernel applies the `net:` grants, its rules for special
 * addresses and the audit, resolves the name itself and answers the IP
 * address to connect to, so that the decision and the connection use the
 * same address (the proxy never resolves a name; an answer that is not an IP
 * literal is refused). A refusal is answered `403` with the reason as the
 * body and closes the connection; nothing reaches the target.
 *
 * Bounds: at most `maxConnections` connections at once (more are answered
 * `503`); a request head of at most `maxHeaderBytes` (`431` past it) that
 * must arrive within `headerTimeoutMs` (`408`); an upstream connect within
 * `connectTimeoutMs` (`504`); a relayed connection idle in both directions
 * for `idleTimeoutMs` is closed. Closing the proxy closes the listener and
 * every socket, aborts the `signal` of pending `authorize` calls, and removes
 * the private directory (mode 0700) that holds the socket.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { libosError } from "../errors.ts";

/** Where the proxy's unix socket appears inside the sandbox. */
export const SANDBOX_PROXY_SOCKET = "/run/libos/proxy.sock";

/** The port the in-sandbox relay listens on (in the sandbox's own network namespace). */
export const SANDBOX_PROXY_PORT = 3128;

/** What a program asked to reach. */
export interface ShellProxyTarget {
  /** The host as requested: lowercase, IPv6 without brackets, IDN in punycode. */
  host: string;
  port: number;
}

/** The kernel's answer for one connection. */
export type ShellProxyVerdict =
  | { ok: true; address: string }
  | { ok: false; reason: string };

/** Options of {@linkcode ShellNetProxy.start}. */
export interface ShellNetProxyOptions {
  /**
   * Decides one connection: `{ok: true, address}` with the IP literal to
   * connect to, or `{ok: false, reason}`. `signal` aborts when the proxy
   * closes. A throw is a refusal with the error's message as the reason.
   */
  authorize: (
    target: ShellProxyTarget,
    options: { signal: AbortSignal },
  ) => Promise<ShellProxyVerdict>;
  /** Most connections at once (default 32). */
  maxConnections?: number;
  /** Largest request head, in bytes (default 16 KiB). */
  maxHeaderBytes?: number;
  /** Deadline for the request head (default 10 s). */
  headerTimeoutMs?: number;
  /** Deadline for the connection to the target (default 10 s). */
  connectTimeoutMs?: number;
  /** A relayed connection with no byte in either direction for this long is closed (default 60 s). */
  idleTimeoutMs?: number;
}

/** The environment that points a program at the in-sandbox relay. */
export function proxyEnvironment(): Record<string, string> {
  const url = `http://127.0.0.1:${SANDBOX_PROXY_PORT}`;
  return {
    HTTP_PROXY: url,
    HTTPS_PROXY: url,
    ALL_PROXY: url,
    http_proxy: url,
    https_proxy: url,
    all_proxy: url,
  };
}

/** What bubblewrap needs to start a program behind the relay. */
export interface RelayInvocation {
  /** `--ro-bind` arguments: the socket, the Deno binary and the relay script. */
  mounts: string[];
  /** Variables for the relay itself (bwrap `--setenv`); the program never sees them. */
  relayEnv: Record<string, string>;
  /** The command bubblewrap runs: the Deno binary, its flags, the script and its arguments. */
  argv: string[];
}

/**
 * The relay command for one run: `program` (an absolute path inside the
 * sandbox) with `args` and exactly `env`, behind a relay that forwards
 * `127.0.0.1:`{@linkcode SANDBOX_PROXY_PORT} to the proxy at `socketPath`.
 * The relay's Deno has only the permissions to listen there, to use the
 * socket and to run the program.
 */
export async function relayInvocation(
  options: { socketPath: string; program: string; args: string[]; env: Record<string, string> },
): Promise<RelayInvocation> {
  if (options.program.includes(",")) {
    // Deno reads --allow-run as a comma-separated list.
    throw libosError(
      "EINVAL",
      `Cannot run '${options.program}' behind the proxy: its path holds a comma`,
    );
  }
  const deno = await Deno.realPath(Deno.execPath());
  const script = _relayScript();
  const denoInside = "/run/libos/deno";
  const scriptInside = "/run/libos/relay.ts";
  return {
    mounts: [
      ...["--ro-bind", options.socketPath, SANDBOX_PROXY_SOCKET],
      ...["--ro-bind", deno, denoInside],
      ...["--ro-bind", script, scriptInside],
    ],
    relayEnv: {
      DENO_DIR: "/tmp/.libos-relay",
      DENO_NO_UPDATE_CHECK: "1",
      DENO_NO_PACKAGE_JSON: "1",
      NO_COLOR: "1",
    },
    argv: [
      denoInside,
      "run",
      "--quiet",
      "--no-prompt",
      "--no-config",
      "--no-lock",
      "--no-remote",
      "--no-npm",
      // Deno 2.9 asks for net access ("unix:<path>") as well as read and write to use a socket.
      `--allow-net=127.0.0.1:${SANDBOX_PROXY_PORT},unix:${SANDBOX_PROXY_SOCKET}`,
      `--allow-read=${SANDBOX_PROXY_SOCKET}`,
      `--allow-write=${SANDBOX_PROXY_SOCKET}`,
      `--allow-run=${options.program}`,
      scriptInside,
      String(SANDBOX_PROXY_PORT),
      SANDBOX_PROXY_SOCKET,
      JSON.stringify(options.env),
      options.program,
      ...options.args,
    ],
  };
}

function _relayScript(): string {
  const url = new URL("./shell_relay.ts", import.meta.url);
  if (url.protocol !== "file:") {
    throw new TypeError(
      `Cannot start the shell relay: its script '${url.href}' is not a local file`,
    );
  }
  return fileURLToPath(url);
}

const _DEFAULTS = {
  maxConnections: 32,
  maxHeaderBytes: 16 * 1024,
  headerTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
};

const _STATUS: Record<number, string> = {
  400: "Bad Request",
  403: "Forbidden",
  408: "Request Timeout",
  431: "Request Header Fields Too Large",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** A request that the proxy answers itself, with a status and a reason. */
class _Refusal extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** The kernel-side HTTP proxy of one shell run (or one kernel); see the module doc. */
export class ShellNetProxy implements AsyncDisposable {
  /** The unix socket to bind into the sandbox, in a private directory (mode 0700). */
  readonly socketPath: string;
  readonly #dir: string;
  readonly #listener: Deno.Listener<Deno.UnixConn, Deno.UnixAddr>;
  readonly #options: Required<ShellNetProxyOptions>;
  readonly #closing = new AbortController();
  readonly #conns = new Set<Deno.Conn>();
  readonly #handlers = new Set<Promise<void>>();
  #clients = 0;
  #accepting: Promise<void> = Promise.resolve();
  #closed: Promise<void> | null = null;

  private constructor(
    dir: string,
    listener: Deno.Listener<Deno.UnixConn, Deno.UnixAddr>,
    options: Required<ShellNetProxyOptions>,
  ) {
    this.#dir = dir;
    this.socketPath = listener.addr.path;
    this.#listener = listener;
    this.#options = options;
  }

  /** Creates the private directory, listens on its socket and starts accepting. */
  static async start(options: ShellNetProxyOptions): Promise<ShellNetProxy> {
    if (typeof options?.authorize !== "function") {
      throw new TypeError("Cannot start the shell proxy: authorize must be a function");
    }
    const merged = { ..._DEFAULTS, ..._defined(options) } as Required<ShellNetProxyOptions>;
    for (const key of Object.keys(_DEFAULTS) as Array<keyof typeof _DEFAULTS>) {
      if (!Number.isInteger(merged[key]) || merged[key] < 1) {
        throw new RangeError(`Cannot start the shell proxy: ${key} must be a positive integer`);
      }
    }
    const dir = await Deno.makeTempDir({ prefix: "libos-proxy-" });
    try {
      await Deno.chmod(dir, 0o700);
      const listener = Deno.listen({ transport: "unix", path: join(dir, "proxy.sock") });
      const proxy = new ShellNetProxy(dir, listener, merged);
      proxy.#accepting = proxy.#accept();
      return proxy;
    } catch (error) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw error;
    }
  }

  /** Stops accepting, closes every connection, and removes the socket's directory. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing.abort();
      try {
        this.#listener.close();
      } catch {
        // closed already
      }
      for (const conn of this.#conns) _close(conn);
      await this.#accepting;
      while (this.#handlers.size > 0) await Promise.allSettled([...this.#handlers]);
      await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
    })();
    return this.#closed;
  }

  /** Same as {@linkcode ShellNetProxy.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #accept(): Promise<void> {
    for (;;) {
      let conn: Deno.UnixConn;
      try {
        conn = await this.#listener.accept();
      } catch {
        return; // the listener was closed
      }
      if (this.#closing.signal.aborted) {
        _close(conn);
        return;
      }
      const handler: Promise<void> = this.#handle(conn).finally(() => {
        this.#handlers.delete(handler);
      });
      this.#handlers.add(handler);
    }
  }

  async #handle(client: Deno.Conn): Promise<void> {
    this.#clients++;
    this.#track(client);
    let upstream: Deno.TcpConn | null = null;
    try {
      if (this.#clients > this.#options.maxConnections) {
        throw new _Refusal(503, "the proxy has too many connections open");
      }
      const head = await this.#readHead(client);
      const request = _parseRequest(head.text);
      const address = await this.#authorize(request.target);
      upstream = await this.#connect(address, request.target);
      this.#track(upstream);
      if (request.kind === "connect") {
        await _writeAll(client, _ENCODER.encode("HTTP/1.1 200 Connection established\r\n\r\n"));
      } else {
        await _writeAll(upstream, _latin1(request.forwardHead));
      }
      if (head.rest.byteLength > 0) await _writeAll(upstream, head.rest);
      await this.#relay(client, upstream);
    } catch (error) {
      if (error instanceof _Refusal) await _answer(client, error.status, error.message);
    } finally {
      this.#clients--;
      for (const conn of [client, upstream]) {
        if (conn === null) continue;
        _close(conn);
        this.#conns.delete(conn);
      }
    }
  }

  #track(conn: Deno.Conn): void {
    this.#conns.add(conn);
    if (this.#closing.signal.aborted) _close(conn);
  }

  /** Reads up to the blank line that ends the request head; returns it and what followed. */
  async #readHead(client: Deno.Conn): Promise<{ text: string; rest: Uint8Array }> {
    const { maxHeaderBytes, headerTimeoutMs } = this.#options;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), headerTimeoutMs);
    });
    try {
      let buffer = new Uint8Array(0);
      const chunk = new Uint8Array(4096);
      for (;;) {
        const read = client.read(chunk);
        const n = await Promise.race([read, deadline]);
        if (n === "late") {
          read.catch(() => {}); // settles when the connection is closed after the answer
          throw new _Refusal(408, "the request head did not arrive in time");
        }
        if (n === null) throw new Error("the client closed before its request head ended");
        const next = new Uint8Array(buffer.byteLength + n);
        next.set(buffer);
        next.set(chunk.subarray(0, n), buffer.byteLength);
        buffer = next;
        const end = _headEnd(buffer);
        if (end !== -1 && end <= maxHeaderBytes) {
          return { text: _fromLatin1(buffer.subarray(0, end)), rest: buffer.slice(end) };
        }
        if (buffer.byteLength > maxHeaderBytes) {
          throw new _Refusal(431, `the request head is longer than ${maxHeaderBytes} bytes`);
        }
      }
    } finally {
      clearTimeout(timer);
    }
  }

  async #authorize(target: ShellProxyTarget): Promise<string> {
    const signal = this.#closing.signal;
    let verdict: ShellProxyVerdict;
    try {
      verdict = await new Promise<ShellProxyVerdict>((resolve, reject) => {
        const abort = () => reject(new Error("the proxy closed"));
        signal.addEventListener("abort", abort, { once: true });
        this.#options.authorize({ ...target }, { signal }).then(resolve, reject).finally(() =>
          signal.removeEventListener("abort", abort)
        );
      });
    } catch (error) {
      if (signal.aborted) throw error;
      throw new _Refusal(403, (error as Error)?.message ?? String(error));
    }
    if (verdict?.ok === true) {
      if (typeof verdict.address === "string" && _isIpLiteral(verdict.address)) {
        return verdict.address;
      }
      throw new _Refusal(502, `the kernel gave no IP address to connect to for ${target.host}`);
    }
    throw new _Refusal(403, String(verdict?.reason ?? "refused"));
  }

  async #connect(address: string, target: ShellProxyTarget): Promise<Deno.TcpConn> {
    const deadline = new AbortController();
    const onClose = () => deadline.abort();
    this.#closing.signal.addEventListener("abort", onClose, { once: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      deadline.abort();
    }, this.#options.connectTimeoutMs);
    try {
      return await Deno.connect({ hostname: address, port: target.port, signal: deadline.signal });
    } catch (error) {
      if (this.#closing.signal.aborted) throw error;
      if (timedOut) {
        throw new _Refusal(504, `connecting to ${target.host}:${target.port} timed out`);
      }
      throw new _Refusal(
        502,
        `cannot connect to ${target.host}:${target.port}: ${(error as Error).message}`,
      );
    } finally {
      clearTimeout(timer);
      this.#closing.signal.removeEventListener("abort", onClose);
    }
  }

  /** Relays bytes both ways until both sides end, either fails, or both are idle too long. */
  async #relay(client: Deno.Conn, upstream: Deno.Conn): Promise<void> {
    const idle = this.#options.idleTimeoutMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expire = () => {
      _close(client);
      _close(upstream);
    };
    const touch = () => {
      clearTimeout(timer);
      timer = setTimeout(expire, idle);
    };
    touch();
    try {
      await Promise.all([_pump(client, upstream, touch), _pump(upstream, client, touch)]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A parsed request head. */
type _Request =
  | { kind: "connect"; target: ShellProxyTarget }
  | { kind: "forward"; target: ShellProxyTarget; forwardHead: string };

const _ENCODER = new TextEncoder();

const _DROPPED_HEADERS = new Set([
  "host",
  "proxy-connection",
  "proxy-authorization",
  "proxy-authenticate",
  "connection",
  "keep-alive",
]);

function _parseRequest(head: string): _Request {
  const lines = head.split("\r\n");
  const match = /^([A-Za-z]+) (\S+) HTTP\/1\.[01]$/.exec(lines[0] ?? "");
  if (match === null) throw new _Refusal(400, "the request line is not HTTP/1.x");
  const method = (match[1] as string).toUpperCase();
  const uri = match[2] as string;
  if (method === "CONNECT") {
    const authority = /^(\[[0-9A-Fa-f:.]+\]|[^\s:/?#@[\]]+):(\d{1,5})$/.exec(uri);
    if (authority === null) {
      throw new _Refusal(400, `CONNECT needs host:port, got '${uri.slice(0, 200)}'`);
    }
    return { kind: "connect", target: _target(authority[1] as string, authority[2] as string) };
  }
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new _Refusal(400, `the request target must be an absolute http:// URI`);
  }
  if (url.protocol !== "http:" || !/^http:\/\//i.test(uri)) {
    throw new _Refusal(
      400,
      url.protocol === "https:"
        ? "an https:// target goes through CONNECT, not a forward request"
        : "the request target must be an absolute http:// URI",
    );
  }
  if (url.username !== "" || url.password !== "") {
    throw new _Refusal(400, "the request target must not hold a user name or password");
  }
  const target = _target(url.hostname, url.port === "" ? "80" : url.port);
  const headers = lines.slice(1).filter((line) => line !== "");
  const kept = headers.filter((line) => {
    const colon = line.indexOf(":");
    return colon > 0 && !_DROPPED_HEADERS.has(line.slice(0, colon).trim().toLowerCase());
  });
  // The origin learns the host that was authorised, whatever Host the client wrote (RFC 9112 3.2.2).
  const requestLine = `${method} ${url.pathname}${url.search} HTTP/1.1`;
  return {
    kind: "forward",
    target,
    forwardHead: [requestLine, `Host: ${url.host}`, ...kept, "Connection: close", "", ""]
      .join("\r\n"),
  };
}

function _target(host: string, portText: string): ShellProxyTarget {
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new _Refusal(400, `the port '${portText}' is not 1 to 65535`);
  }
  let hostname: string;
  try {
    hostname = new URL(`http://${host}/`).hostname;
  } catch {
    throw new _Refusal(400, `the host '${host.slice(0, 200)}' is malformed`);
  }
  if (hostname.startsWith("[") && hostname.endsWith("]")) hostname = hostname.slice(1, -1);
  return { host: hostname, port };
}

function _isIpLiteral(address: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(address) ||
    (address.includes(":") && /^[0-9A-Fa-f:.]+$/.test(address));
}

/** The index just past the head's blank line, or -1. */
function _headEnd(bytes: Uint8Array): number {
  for (let i = 3; i < bytes.byteLength; i++) {
    if (
      bytes[i] === 10 && bytes[i - 1] === 13 && bytes[i - 2] === 10 && bytes[i - 3] === 13
    ) return i + 1;
  }
  return -1;
}

function _fromLatin1(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}

function _latin1(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i) & 0xff;
  return bytes;
}

async function _answer(conn: Deno.Conn, status: number, reason: string): Promise<void> {
  const body = _ENCODER.encode(`${reason}\n`);
  const head = `HTTP/1.1 ${status} ${_STATUS[status] ?? "Error"}\r\n` +
    `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.byteLength}\r\n` +
    "Connection: close\r\n\r\n";
  try {
    await _writeAll(conn, _ENCODER.encode(head));
    await _writeAll(conn, body);
  } catch {
    // The client is gone.
  }
}

async function _writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.byteLength) at += await conn.write(bytes.subarray(at));
}

/** Copies `from` to `to` until end of stream, then half-closes `to`; an error closes both. */
async function _pump(from: Deno.Conn, to: Deno.Conn, touch: () => void): Promise<void> {
  const buffer = new Uint8Array(32 * 1024);
  try {
    for (;;) {
      const n = await from.read(buffer);
      if (n === null) break;
      touch();
      await _writeAll(to, buffer.subarray(0, n));
    }
    await to.closeWrite();
  } catch {
    _close(from);
    _close(to);
  }
}

function _close(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // closed already
  }
}

function _defined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(options).filter(([, value]) => value !== undefined),
  ) as Partial<T>;
}
