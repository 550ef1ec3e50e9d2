/**
 * An MCP stdio transport over a program the shell substrate started (under
 * bubblewrap, like a `run_shell` program): newline-delimited JSON-RPC on its
 * standard input and output, as the SDK's `StdioClientTransport` speaks it,
 * but without spawning through node:child_process. Standard error is drained
 * and its last few KiB kept, to say why a server died.
 *
 * @module
 */
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { ReadBuffer } from "@modelcontextprotocol/sdk/shared/stdio.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { Buffer } from "node:buffer";
import type { ShellChild } from "../substrate/shell_provider.ts";
import type { McpSdk } from "./sdk.ts";

const _STDERR_TAIL = 4096;

/** The SDK `Transport` over a started program's pipes. */
export class ProcessTransport implements Transport {
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onmessage?: ((message: JSONRPCMessage) => void) | undefined;
  readonly #child: ShellChild;
  readonly #buffer: ReadBuffer;
  readonly #serialize: McpSdk["serializeMessage"];
  #writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
  #stderr = "";
  #closed = false;

  constructor(child: ShellChild, sdk: McpSdk) {
    this.#child = child;
    this.#buffer = new sdk.ReadBuffer();
    this.#serialize = sdk.serializeMessage;
  }

  /** The last few KiB the program wrote to standard error. */
  get stderrTail(): string {
    return this.#stderr;
  }

  /** Whether the program has ended (or the transport was closed). */
  get closed(): boolean {
    return this.#closed;
  }

  start(): Promise<void> {
    this.#writer = this.#child.stdin.getWriter();
    this.#pump().catch((error) => this.onerror?.(error as Error));
    this.#drainStderr().catch(() => {});
    this.#child.status.finally(() => this.#end()).catch(() => {});
    return Promise.resolve();
  }

  async send(message: JSONRPCMessage): Promise<void> {
    if (this.#closed || this.#writer === null) throw new Error("the server is not running");
    await this.#writer.write(new TextEncoder().encode(this.#serialize(message)));
  }

  async close(): Promise<void> {
    this.#child.kill();
    await this.#child.status.catch(() => {});
    this.#end();
  }

  #end(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#writer?.releaseLock();
    this.onclose?.();
  }

  async #pump(): Promise<void> {
    for await (const chunk of this.#child.stdout) {
      try {
        this.#buffer.append(Buffer.from(chunk));
      } catch (error) {
        // A line past the buffer's bound: the server is not speaking MCP.
        this.onerror?.(error as Error);
        await this.close();
        return;
      }
      for (;;) {
        let message: JSONRPCMessage | null;
        try {
          message = this.#buffer.readMessage();
        } catch (error) {
          this.onerror?.(error as Error);
          continue;
        }
        if (message === null) break;
        this.onmessage?.(message);
      }
    }
  }

  async #drainStderr(): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of this.#child.stderr) {
      this.#stderr = (this.#stderr + decoder.decode(chunk, { stream: true })).slice(-_STDERR_TAIL);
    }
  }
}
