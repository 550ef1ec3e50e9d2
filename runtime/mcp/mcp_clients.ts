/**
 * The kernel's MCP clients: the operator's configured servers and one
 * {@linkcode McpSession} per process and server, made on first use and closed
 * when the process ends (a stdio server runs per process, with that process's
 * authority) or the kernel stops.
 *
 * @module
 */
import { libosError } from "../errors.ts";
import type { Pid } from "../types.ts";
import type { McpConfig, McpServerConfig } from "./config.ts";
import { type McpConnect, McpSession } from "./mcp_session.ts";

/** Options of {@linkcode McpClients}. */
export interface McpClientsOptions {
  /** First delay before restarting a server that died, in ms (default 250). */
  backoffMs?: number;
}

/** The configured servers and the live sessions, by process. */
export class McpClients implements AsyncDisposable {
  readonly #config: McpConfig;
  readonly #options: McpClientsOptions;
  readonly #sessions = new Map<Pid, Map<string, McpSession>>();
  #closed = false;

  constructor(config: McpConfig, options: McpClientsOptions = {}) {
    this.#config = config;
    this.#options = options;
  }

  /** The configured server names. */
  names(): string[] {
    return Object.keys(this.#config.mcpServers);
  }

  /** A server's configuration (throws ENOENT when the operator configured none of that name). */
  server(name: string): McpServerConfig {
    const s = Object.hasOwn(this.#config.mcpServers, name)
      ? this.#config.mcpServers[name]
      : undefined;
    if (s === undefined) {
      throw libosError(
        "ENOENT",
        `Cannot use MCP server '${name}': the operator's MCP config has no such server (${
          this.names().join(", ") || "none"
        })`,
      );
    }
    return s;
  }

  /** The session of `pid` with `server`, made with `connect` on first use. */
  session(pid: Pid, server: string, connect: McpConnect): McpSession {
    if (this.#closed) {
      throw libosError("ECANCELED", `Cannot use MCP server '${server}': the kernel is stopping`);
    }
    this.server(server);
    let mine = this.#sessions.get(pid);
    if (mine === undefined) this.#sessions.set(pid, mine = new Map());
    let s = mine.get(server);
    if (s === undefined) {
      s = new McpSession({
        server,
        connect,
        ...(this.#options.backoffMs === undefined ? {} : { backoffMs: this.#options.backoffMs }),
      });
      mine.set(server, s);
    }
    return s;
  }

  /** Closes a process's sessions (its stdio servers are killed). */
  async release(pid: Pid): Promise<void> {
    const mine = this.#sessions.get(pid);
    if (mine === undefined) return;
    this.#sessions.delete(pid);
    await Promise.allSettled([...mine.values()].map((s) => s[Symbol.asyncDispose]()));
  }

  /** Closes every session (a kernel that stops does); new ones may be made after. */
  async releaseAll(): Promise<void> {
    await Promise.allSettled([...this.#sessions.keys()].map((pid) => this.release(pid)));
  }

  /** Closes every session and refuses new ones. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#closed = true;
    await this.releaseAll();
  }
}
