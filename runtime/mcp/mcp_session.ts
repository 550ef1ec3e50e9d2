/**
 * One MCP session: the SDK's `Client` connected to one server for one
 * process. It connects on first use, keeps the server's tool list (listed
 * again after `notifications/tools/list_changed` and after a reconnect), and
 * starts the server again with backoff when it died. A call has a deadline;
 * a server that dies during a call fails it with `EUNKNOWN` (it may have
 * acted). The client declares no capabilities: a server's sampling,
 * elicitation or roots request is refused (method not found).
 *
 * @module
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { CallToolResult, ReadResourceResult } from "@modelcontextprotocol/sdk/types.js";
import { LibosError, libosError } from "../errors.ts";
import type { McpToolDescription } from "./pinning.ts";
import { type McpSdk, mcpSdk } from "./sdk.ts";

/** The client's name and version in `initialize`. */
export const MCP_CLIENT_INFO = { name: "agent-libos", version: "1.0.0" } as const;

/** How a session reaches its server: a new transport each time it (re)connects. */
export type McpConnect = () => Promise<Transport & { readonly stderrTail?: string }>;

/** Options of {@linkcode McpSession}. */
export interface McpSessionOptions {
  /** The server's name in the operator's config. */
  server: string;
  connect: McpConnect;
  /** Deadline of connecting and listing, in ms (default 30,000). */
  connectTimeoutMs?: number;
  /** First delay before a restart after the server died, in ms (default 250; doubles, at most 30 s). */
  backoffMs?: number;
}

/** Options of one request. */
export interface McpRequestOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

/** One process's connection to one server. */
export class McpSession implements AsyncDisposable {
  readonly server: string;
  readonly #connect: McpConnect;
  readonly #connectTimeoutMs: number;
  readonly #backoffMs: number;
  #client: Client | null = null;
  /** Loaded by the first connection (before any error can come from the SDK). */
  #sdk: McpSdk | null = null;
  #transport: (Transport & { readonly stderrTail?: string }) | null = null;
  #connecting: Promise<Client> | null = null;
  #tools: McpToolDescription[] | null = null;
  #deaths = 0;
  #diedAt = 0;
  #closed = false;

  constructor(options: McpSessionOptions) {
    this.server = options.server;
    this.#connect = options.connect;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 30_000;
    this.#backoffMs = options.backoffMs ?? 250;
  }

  /** How many times the server died (or its connection closed) after connecting. */
  get deaths(): number {
    return this.#deaths;
  }

  /** The server's tools, listed again after a change notification or a reconnect. */
  async tools(options: Partial<McpRequestOptions> = {}): Promise<McpToolDescription[]> {
    const client = await this.#ready();
    if (this.#tools !== null) return this.#tools;
    const tools: McpToolDescription[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 100; page++) {
      const r: { tools: unknown[]; nextCursor?: string | undefined } = await this.#request(
        () =>
          client.listTools(cursor === undefined ? {} : { cursor }, {
            timeout: options.timeoutMs ?? this.#connectTimeoutMs,
            ...(options.signal === undefined ? {} : { signal: options.signal }),
          }),
        "list tools",
      );
      tools.push(...(r.tools as McpToolDescription[]));
      cursor = r.nextCursor;
      if (cursor === undefined) break;
    }
    this.#tools = tools;
    return tools;
  }

  /** Calls a tool; a server that dies during the call fails it with EUNKNOWN. */
  async call(
    tool: string,
    args: Record<string, unknown>,
    options: McpRequestOptions,
  ): Promise<CallToolResult> {
    const client = await this.#ready();
    return await this.#request(
      () =>
        client.callTool({ name: tool, arguments: args }, undefined, {
          timeout: options.timeoutMs,
          ...(options.signal === undefined ? {} : { signal: options.signal }),
        }) as Promise<CallToolResult>,
      `call '${this.server}.${tool}'`,
    );
  }

  /** Reads a resource. */
  async readResource(uri: string, options: McpRequestOptions): Promise<ReadResourceResult> {
    const client = await this.#ready();
    return await this.#request(
      () =>
        client.readResource({ uri }, {
          timeout: options.timeoutMs,
          ...(options.signal === undefined ? {} : { signal: options.signal }),
        }),
      `read '${uri}' from '${this.server}'`,
    );
  }

  /** Closes the connection (a stdio server is killed). */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#closed = true;
    const client = this.#client;
    this.#client = null;
    await client?.close().catch(() => {});
  }

  async #request<T>(fn: () => Promise<T>, what: string): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw this.#error(error, what);
    }
  }

  #error(error: unknown, what: string): LibosError {
    if (error instanceof LibosError) return error;
    const tail = this.#transport?.stderrTail?.trim();
    const said = tail ? ` (its last words: ${JSON.stringify(tail.slice(-300))})` : "";
    const sdk = this.#sdk;
    if (sdk !== null && error instanceof sdk.McpError) {
      const ErrorCode = sdk.ErrorCode;
      const code = (error as { code?: unknown }).code;
      const message = (error as { message: string }).message;
      if (code === ErrorCode.ConnectionClosed) {
        return libosError(
          "EUNKNOWN",
          `Cannot ${what}: the server '${this.server}' went away during the request${said}; whether it acted is not known`,
          {},
          error,
        );
      }
      if (code === ErrorCode.RequestTimeout) {
        return libosError(
          "ETIMEDOUT",
          `Cannot ${what}: the server '${this.server}' did not answer in time`,
          {},
          error,
        );
      }
      return libosError("ETOOL", `Cannot ${what}: the server said: ${message}`, {}, error);
    }
    const message = error instanceof Error ? error.message : String(error);
    return libosError("ETOOL", `Cannot ${what}: ${message}${said}`, {}, error);
  }

  /** The connected client: connects (after the backoff, when the server died) if needed. */
  #ready(): Promise<Client> {
    if (this.#closed) {
      return Promise.reject(
        libosError("ECANCELED", `Cannot use MCP server '${this.server}': the session is closed`),
      );
    }
    if (this.#client !== null) return Promise.resolve(this.#client);
    this.#connecting ??= this.#open().finally(() => {
      this.#connecting = null;
    });
    return this.#connecting;
  }

  async #open(): Promise<Client> {
    if (this.#deaths > 0) {
      const delay = Math.min(30_000, this.#backoffMs * 2 ** Math.min(this.#deaths - 1, 10));
      const left = this.#diedAt + delay - Date.now();
      if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
    }
    const sdk = this.#sdk ??= await mcpSdk();
    const client = new sdk.Client(MCP_CLIENT_INFO, { capabilities: {} });
    client.setNotificationHandler(sdk.ToolListChangedNotificationSchema, () => {
      this.#tools = null;
    });
    let transport: Transport & { readonly stderrTail?: string };
    try {
      transport = await this.#connect();
    } catch (error) {
      throw error instanceof LibosError ? error : libosError(
        "ETOOL",
        `Cannot start MCP server '${this.server}': ${(error as Error).message}`,
        {},
        error,
      );
    }
    this.#transport = transport;
    try {
      await client.connect(transport, { timeout: this.#connectTimeoutMs });
    } catch (error) {
      await client.close().catch(() => {});
      this.#died();
      throw this.#error(error, `connect to MCP server '${this.server}'`);
    }
    client.onclose = () => {
      if (this.#client === client) {
        this.#client = null;
        this.#tools = null;
        this.#died();
      }
    };
    this.#client = client;
    this.#tools = null;
    return client;
  }

  #died(): void {
    if (this.#closed) return;
    this.#deaths += 1;
    this.#diedAt = Date.now();
  }
}
