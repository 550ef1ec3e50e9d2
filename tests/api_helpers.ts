/**
 * Fixtures for the control-plane tests: a kernel on an in-memory filesystem
 * with fake time, its control plane run in-process, and terse requests.
 *
 * @module
 */
import { ControlPlane, type ControlPlaneOptions, type Role } from "../api/mod.ts";
import { bootKernel, type TestKernel } from "./helpers.ts";
import { type GrantSpec, RIGHTS_BY_KIND } from "../mod.ts";

/** The admin token of every test plane. */
export const ADMIN = "test-admin-token-0123456789";

/** A request's outcome: status, parsed JSON (null when not JSON) and headers. */
export interface Answer {
  status: number;
  // deno-lint-ignore no-explicit-any
  json: any;
  headers: Headers;
  text: string;
}

/** Options of a request. */
export interface Call {
  method?: string;
  /** The bearer token (default: the admin's); null sends none. */
  token?: string | null;
  /** A JSON body (or a string sent as it is). */
  body?: unknown;
  headers?: Record<string, string>;
}

/**
 * Every kind's widest pattern with every right: the ceiling of an operator
 * in tests about something else than ceilings (an operator's default is empty).
 */
export const WIDE_CEILING: GrantSpec[] = Object.entries(RIGHTS_BY_KIND).map(([kind, rights]) => ({
  resource: ["proc", "tool", "image", "checkpoint"].includes(kind) ? kind : `${kind}:**`,
  rights: [...rights],
}));

/** A test kernel with its control plane. */
export interface TestPlane extends TestKernel {
  plane: ControlPlane;
  /** Sends a request in-process and reads the whole answer. */
  call(path: string, options?: Call): Promise<Answer>;
  /**
   * Mints a token of a role and returns its secret. An operator gets
   * {@linkcode WIDE_CEILING} unless `ceiling` says otherwise.
   */
  tokenFor(role: Role, name?: string, ceiling?: GrantSpec[]): Promise<string>;
}

/** Boots a kernel (see bootKernel) and builds its control plane. */
export async function bootPlane(
  options: Parameters<typeof bootKernel>[0] & Partial<ControlPlaneOptions> = {},
): Promise<TestPlane> {
  const {
    bodyLimit,
    defaultWaitMs,
    maxWaitMs,
    heartbeatMs,
    maxEventStreams,
    eventCapacity,
    bundleLimit,
    idempotencyTtlMs,
    mcpAllowedHosts,
    adminToken: _a,
    ...kernelOptions
  } = options;
  const t = await bootKernel(kernelOptions);
  const plane = await ControlPlane.create(t.kernel, {
    adminToken: ADMIN,
    ...(bodyLimit === undefined ? {} : { bodyLimit }),
    ...(defaultWaitMs === undefined ? {} : { defaultWaitMs }),
    ...(maxWaitMs === undefined ? {} : { maxWaitMs }),
    ...(heartbeatMs === undefined ? {} : { heartbeatMs }),
    ...(maxEventStreams === undefined ? {} : { maxEventStreams }),
    ...(eventCapacity === undefined ? {} : { eventCapacity }),
    ...(bundleLimit === undefined ? {} : { bundleLimit }),
    ...(idempotencyTtlMs === undefined ? {} : { idempotencyTtlMs }),
    ...(mcpAllowedHosts === undefined ? {} : { mcpAllowedHosts }),
  });
  const call = (path: string, o: Call = {}) => request(plane, path, o);
  return {
    ...t,
    plane,
    call,
    async tokenFor(role, name, ceiling) {
      const wide = role === "operator" ? ceiling ?? WIDE_CEILING : ceiling;
      const r = await call("/v1/tokens", {
        method: "POST",
        body: {
          role,
          ...(name === undefined ? {} : { name }),
          ...(wide === undefined ? {} : { ceiling: wide }),
        },
      });
      if (r.status !== 201) throw new Error(`cannot mint a token: ${r.text}`);
      return r.json.token as string;
    },
    async [Symbol.asyncDispose]() {
      plane.close();
      await t.kernel.close();
    },
  };
}

/** Sends a request to a plane in-process. */
export async function request(plane: ControlPlane, path: string, o: Call = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...o.headers };
  const token = o.token === undefined ? ADMIN : o.token;
  if (token !== null) headers["authorization"] = `Bearer ${token}`;
  let body: string | undefined;
  if (o.body !== undefined) {
    body = typeof o.body === "string" ? o.body : JSON.stringify(o.body);
    headers["content-type"] ??= "application/json";
  }
  const res = await plane.request(path, {
    method: o.method ?? (o.body === undefined ? "GET" : "POST"),
    headers,
    ...(body === undefined ? {} : { body }),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, json, headers: res.headers, text };
}

/** A reader of server-sent event frames from a response body. */
export class FrameReader {
  readonly #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";

  constructor(res: Response) {
    if (res.body === null) throw new TypeError("Cannot read frames: the response has no body");
    this.#reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** The next frame (comments and bare `retry:` frames skipped), or null at the end. */
  async next(): Promise<{ id: string | null; event: string; data: unknown } | null> {
    for (let i = 0; i < 10_000; i++) {
      const cut = this.#buffer.indexOf("\n\n");
      if (cut >= 0) {
        const frame = this.#buffer.slice(0, cut);
        this.#buffer = this.#buffer.slice(cut + 2);
        let id: string | null = null;
        let event = "message";
        let data = "";
        for (const line of frame.split("\n")) {
          if (line.startsWith("id: ")) id = line.slice(4);
          else if (line.startsWith("event: ")) event = line.slice(7);
          else if (line.startsWith("data: ")) data += line.slice(6);
        }
        if (data === "") continue;
        return { id, event, data: JSON.parse(data) };
      }
      const { value, done } = await this.#reader.read();
      if (done) return null;
      this.#buffer += value;
    }
    throw new Error("no complete frame after 10,000 reads");
  }

  /** Reads frames until `match` holds (at most `max` frames); returns them all. */
  async until(
    match: (f: { id: string | null; event: string; data: unknown }) => boolean,
    max = 500,
  ): Promise<{ id: string | null; event: string; data: unknown }[]> {
    const seen = [];
    for (let i = 0; i < max; i++) {
      const f = await this.next();
      if (f === null) {
        throw new Error(`the stream ended before the frame; saw ${JSON.stringify(seen)}`);
      }
      seen.push(f);
      if (match(f)) return seen;
    }
    throw new Error(`no matching frame in ${max}: ${JSON.stringify(seen.slice(-5))}`);
  }

  /** Stops reading (the server's stream is cancelled). */
  async cancel(): Promise<void> {
    await this.#reader.cancel();
  }
}
