/**
 * A small client of the control plane, for the CLI verbs (`libos ps`, `show`,
 * `spawn`, `approve`, `deny`, `outcome`, `audit verify`, `token create`). Its errors say
 * what went wrong in the operator's terms: the kernel is not reachable, the
 * token is missing or refused, or the kernel's own error message.
 *
 * @module
 */
import type {
  AgentImageInput,
  AuditVerification,
  CheckpointInfo,
  Grant,
  GrantSpec,
  HumanRequest,
  JournalEntry,
  ProcessRecord,
} from "../runtime/mod.ts";
import type { Role, TokenInfo } from "./token_store.ts";

/** Options of {@linkcode ApiClient}. */
export interface ApiClientOptions {
  /** Base URL, e.g. `http://127.0.0.1:8787`. */
  url: string;
  /** Bearer token. */
  token: string;
  /** Deadline of each request in ms (default 30,000; a wait adds its own timeout). */
  timeoutMs?: number;
  /**
   * How many times a command (POST, DELETE) is sent again, with the same
   * `Idempotency-Key`, when the kernel could not be reached or its answer was
   * lost, or while the first attempt still runs (409 `EBUSY`); default 3.
   */
  retries?: number;
  /** The first pause before a retry in ms, doubled each time (default 250). */
  retryDelayMs?: number;
}

/** Why a call failed. */
export type ApiClientErrorKind = "unreachable" | "unauthorized" | "forbidden" | "http";

/** A failed call, with a message fit to print. */
export class ApiClientError extends Error {
  /** What kind of failure. */
  readonly kind: ApiClientErrorKind;
  /** The HTTP status, when there was an answer. */
  readonly status: number | null;
  /** The API's error code, when it gave one. */
  readonly code: string | null;

  constructor(
    kind: ApiClientErrorKind,
    message: string,
    fields: { status?: number; code?: string; cause?: unknown } = {},
  ) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.name = "ApiClientError";
    this.kind = kind;
    this.status = fields.status ?? null;
    this.code = fields.code ?? null;
  }
}

/** The control plane, over HTTP. */
export class ApiClient {
  readonly url: string;
  readonly #token: string;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #retryDelayMs: number;

  constructor(options: ApiClientOptions) {
    this.url = options.url.replace(/\/+$/, "");
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#retries = options.retries ?? 3;
    this.#retryDelayMs = options.retryDelayMs ?? 250;
  }

  /** Processes, by pid. */
  async processes(): Promise<ProcessRecord[]> {
    return (await this.#call<{ processes: ProcessRecord[] }>("GET", "/v1/processes")).processes;
  }

  /** One process. */
  process(pid: string): Promise<ProcessRecord> {
    return this.#call("GET", `/v1/processes/${encodeURIComponent(pid)}`);
  }

  /** A process's grants. */
  async capabilities(pid: string): Promise<Grant[]> {
    return (await this.#call<{ capabilities: Grant[] }>(
      "GET",
      `/v1/processes/${encodeURIComponent(pid)}/capabilities`,
    )).capabilities;
  }

  /** A process's journal. */
  async journal(pid: string, options: { limit?: number } = {}): Promise<JournalEntry[]> {
    return (await this.#call<{ entries: JournalEntry[] }>(
      "GET",
      `/v1/processes/${encodeURIComponent(pid)}/journal?limit=${options.limit ?? 200}`,
    )).entries;
  }

  /** Spawns a process from an image id or an inline image. */
  spawn(request: { image: string | AgentImageInput; goal: string }): Promise<{
    pid: string;
    process: ProcessRecord;
  }> {
    return this.#call("POST", "/v1/processes", request);
  }

  /** Human requests, optionally only pending ones. */
  async humanRequests(options: { state?: string } = {}): Promise<HumanRequest[]> {
    const q = options.state === undefined ? "" : `?state=${encodeURIComponent(options.state)}`;
    return (await this.#call<{ requests: HumanRequest[] }>("GET", `/v1/human${q}`)).requests;
  }

  /**
   * Decides a human request. Without `previewSha256` the request is read
   * first and its digest sent: the caller decides on what the kernel shows now.
   */
  async decide(
    id: string,
    decision: {
      decision: "approve" | "deny" | "answer" | "happened" | "retry" | "fail";
      answer?: string;
      /** With happened: the call's result (JSON). */
      value?: unknown;
      scope?: "once" | "always";
      previewSha256?: string;
    },
  ): Promise<HumanRequest> {
    const previewSha256 = decision.previewSha256 ??
      (await this.#call<HumanRequest>("GET", `/v1/human/${encodeURIComponent(id)}`))
        .previewSha256;
    return await this.#call("POST", `/v1/human/${encodeURIComponent(id)}`, {
      ...decision,
      previewSha256,
    });
  }

  /** Verifies the audit chain. */
  verifyAudit(): Promise<AuditVerification> {
    return this.#call("GET", "/v1/audit/verify");
  }

  /** Mints a token (admin). */
  createToken(
    request: { role: Role; name?: string; ceiling?: GrantSpec[] },
  ): Promise<{ token: string; info: TokenInfo }> {
    return this.#call("POST", "/v1/tokens", request);
  }

  /** Takes a checkpoint of a process (or its subtree). */
  checkpoint(
    pid: string,
    options: { reason?: string; subtree?: boolean } = {},
  ): Promise<CheckpointInfo> {
    return this.#call("POST", `/v1/processes/${encodeURIComponent(pid)}/checkpoints`, options);
  }

  /** Checkpoints that include a process. */
  async checkpoints(pid: string): Promise<CheckpointInfo[]> {
    return (await this.#call<{ checkpoints: CheckpointInfo[] }>(
      "GET",
      `/v1/processes/${encodeURIComponent(pid)}/checkpoints`,
    )).checkpoints;
  }

  /** Rolls a checkpoint's processes back (admin). */
  restore(id: string): Promise<ProcessRecord> {
    return this.#call("POST", `/v1/checkpoints/${encodeURIComponent(id)}/restore`);
  }

  /** A checkpoint's bundle bytes (admin). */
  async exportBundle(id: string): Promise<Uint8Array> {
    const res = await this.#send("GET", `/v1/checkpoints/${encodeURIComponent(id)}/bundle`);
    return new Uint8Array(await res.arrayBuffer());
  }

  /** Imports a bundle; its processes resume on this kernel (admin). */
  async importBundle(bytes: Uint8Array): Promise<{ pids: Record<string, string> }> {
    const res = await this.#send("POST", "/v1/checkpoints/import", bytes);
    return await res.json();
  }

  /** Who the token is. */
  whoami(): Promise<{ id: string; name: string; role: Role }> {
    return this.#call("GET", "/v1/whoami");
  }

  async #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.#send(method, path, body);
    const text = await res.text();
    return (text === "" ? null : JSON.parse(text)) as T;
  }

  /**
   * Sends a request (JSON, or bytes as octet-stream); throws ApiClientError
   * unless 2xx. A command gets a fresh `Idempotency-Key` and is sent again
   * with it when the kernel could not be reached or is still running it.
   */
  async #send(method: string, path: string, body?: unknown): Promise<Response> {
    const command = method !== "GET" && method !== "HEAD";
    const key = command ? crypto.randomUUID() : null;
    for (let attempt = 0;; attempt++) {
      const last = !command || attempt >= this.#retries;
      try {
        return await this.#sendOnce(method, path, body, key);
      } catch (error) {
        const retryable = error instanceof ApiClientError &&
          (error.kind === "unreachable" || (error.status === 409 && error.code === "EBUSY"));
        if (last || !retryable) throw error;
      }
      await new Promise((r) => setTimeout(r, this.#retryDelayMs * 2 ** attempt));
    }
  }

  async #sendOnce(
    method: string,
    path: string,
    body: unknown,
    key: string | null,
  ): Promise<Response> {
    const target = `${this.url}${path}`;
    const bytes = body instanceof Uint8Array;
    let res: Response;
    try {
      res = await fetch(target, {
        method,
        headers: {
          authorization: `Bearer ${this.#token}`,
          ...(key === null ? {} : { "idempotency-key": key }),
          ...(body === undefined
            ? {}
            : { "content-type": bytes ? "application/octet-stream" : "application/json" }),
        },
        ...(body === undefined
          ? {}
          : { body: bytes ? body as Uint8Array<ArrayBuffer> : JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      const why = error instanceof DOMException && error.name === "TimeoutError"
        ? `no answer within ${this.#timeoutMs} ms`
        : error instanceof Error
        ? error.message
        : String(error);
      throw new ApiClientError(
        "unreachable",
        `Cannot reach the kernel at ${this.url}: ${why}. Is 'libos start' running there? ` +
          "(set --url or LIBOS_URL)",
        { cause: error },
      );
    }
    if (res.ok) return res;
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text === "" ? null : JSON.parse(text);
    } catch {
      json = null;
    }
    const err = (json as { error?: { code?: string; message?: string } } | null)?.error;
    const message = err?.message ?? `HTTP ${res.status} ${res.statusText}`;
    const fields = { status: res.status, ...(err?.code === undefined ? {} : { code: err.code }) };
    if (res.status === 401) {
      throw new ApiClientError(
        "unauthorized",
        `The kernel at ${this.url} refused the token: ${message} (set --token or LIBOS_TOKEN)`,
        fields,
      );
    }
    if (res.status === 403) throw new ApiClientError("forbidden", message, fields);
    throw new ApiClientError("http", message, fields);
  }
}
