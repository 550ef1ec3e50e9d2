/**
 * The syscalls of one tool call, as the typed door the kernel, the step loop
 * and the sandbox's proxy use. Each method is one primitive of
 * runtime/primitives/ (one file per family), served by one
 * {@linkcode SyscallEngine} — the only path any primitive takes.
 *
 * A `Syscalls` object serves one tool call of one process. Syscalls are
 * numbered within the call; when a call runs again (after a human answered,
 * a child ended, a timer fired, or after a crash) every syscall that already
 * completed answers from the journal instead of acting again.
 *
 * @module
 */
import type { Batch } from "./batch.ts";
import type { KernelCore } from "../kernel_core.ts";
import type { JournalEntry, Pid, ProcessRecord } from "../types.ts";
import { SyscallEngine } from "./engine.ts";
import * as fs from "../primitives/fs.ts";
import * as obj from "../primitives/obj.ts";
import * as human from "../primitives/human.ts";
import * as proc from "../primitives/proc.ts";
import * as net from "../primitives/net.ts";
import * as shell from "../primitives/shell.ts";
import * as jit from "../primitives/jit.ts";
import * as checkpoint from "../primitives/checkpoint.ts";
import * as clock from "../primitives/clock.ts";
import * as mcp from "../primitives/mcp.ts";
import * as mbox from "../primitives/mbox.ts";

export type { FetchResult } from "../primitives/net.ts";
export type { McpCallResult } from "../primitives/mcp.ts";
export type { ObjectInfo } from "../primitives/obj.ts";
export type { ShellRunResult } from "../primitives/shell.ts";
export type { WaitResult } from "../primitives/proc.ts";
export type { ReceivedMessage, ReceiveResult } from "../primitives/mbox.ts";
export { MAX_FILE_BYTES } from "../primitives/fs.ts";

/** A primitive's arguments after the engine. */
type _Args<F> = F extends (e: SyscallEngine, ...rest: infer R) => unknown ? R : never;

/** The syscalls of one tool call. */
export class Syscalls {
  readonly #e: SyscallEngine;

  constructor(
    kernel: KernelCore,
    process: ProcessRecord,
    options: { batch: Batch; callId: string; turn: number; replay: Map<number, JournalEntry> },
  ) {
    this.#e = new SyscallEngine(kernel, process, options);
  }

  /** The calling process's pid. */
  get pid(): Pid {
    return this.#e.pid;
  }

  readText(...a: _Args<typeof fs.readText>): ReturnType<typeof fs.readText> {
    return fs.readText(this.#e, ...a);
  }

  readBytes(...a: _Args<typeof fs.readBytes>): ReturnType<typeof fs.readBytes> {
    return fs.readBytes(this.#e, ...a);
  }

  write(...a: _Args<typeof fs.write>): ReturnType<typeof fs.write> {
    return fs.write(this.#e, ...a);
  }

  list(...a: _Args<typeof fs.list>): ReturnType<typeof fs.list> {
    return fs.list(this.#e, ...a);
  }

  stat(...a: _Args<typeof fs.stat>): ReturnType<typeof fs.stat> {
    return fs.stat(this.#e, ...a);
  }

  delete(...a: _Args<typeof fs.remove>): ReturnType<typeof fs.remove> {
    return fs.remove(this.#e, ...a);
  }

  mkdir(...a: _Args<typeof fs.mkdir>): ReturnType<typeof fs.mkdir> {
    return fs.mkdir(this.#e, ...a);
  }

  create(...a: _Args<typeof obj.create>): ReturnType<typeof obj.create> {
    return obj.create(this.#e, ...a);
  }

  read(...a: _Args<typeof obj.read>): ReturnType<typeof obj.read> {
    return obj.read(this.#e, ...a);
  }

  writeObject(...a: _Args<typeof obj.writeObject>): ReturnType<typeof obj.writeObject> {
    return obj.writeObject(this.#e, ...a);
  }

  listObjects(...a: _Args<typeof obj.listObjects>): ReturnType<typeof obj.listObjects> {
    return obj.listObjects(this.#e, ...a);
  }

  link(...a: _Args<typeof obj.link>): ReturnType<typeof obj.link> {
    return obj.link(this.#e, ...a);
  }

  deleteObject(...a: _Args<typeof obj.deleteObject>): ReturnType<typeof obj.deleteObject> {
    return obj.deleteObject(this.#e, ...a);
  }

  fileToObject(...a: _Args<typeof obj.fileToObject>): ReturnType<typeof obj.fileToObject> {
    return obj.fileToObject(this.#e, ...a);
  }

  objectToFile(...a: _Args<typeof obj.objectToFile>): ReturnType<typeof obj.objectToFile> {
    return obj.objectToFile(this.#e, ...a);
  }

  ask(...a: _Args<typeof human.ask>): ReturnType<typeof human.ask> {
    return human.ask(this.#e, ...a);
  }

  notify(...a: _Args<typeof human.notify>): ReturnType<typeof human.notify> {
    return human.notify(this.#e, ...a);
  }

  requestPermission(
    ...a: _Args<typeof human.requestPermission>
  ): ReturnType<typeof human.requestPermission> {
    return human.requestPermission(this.#e, ...a);
  }

  spawn(...a: _Args<typeof proc.spawn>): ReturnType<typeof proc.spawn> {
    return proc.spawn(this.#e, ...a);
  }

  fork(...a: _Args<typeof proc.fork>): ReturnType<typeof proc.fork> {
    return proc.fork(this.#e, ...a);
  }

  wait(...a: _Args<typeof proc.wait>): ReturnType<typeof proc.wait> {
    return proc.wait(this.#e, ...a);
  }

  signal(...a: _Args<typeof proc.signal>): ReturnType<typeof proc.signal> {
    return proc.signal(this.#e, ...a);
  }

  exit(...a: _Args<typeof proc.exit>): ReturnType<typeof proc.exit> {
    return proc.exit(this.#e, ...a);
  }

  cwd(...a: _Args<typeof proc.cwd>): ReturnType<typeof proc.cwd> {
    return proc.cwd(this.#e, ...a);
  }

  chdir(...a: _Args<typeof proc.chdir>): ReturnType<typeof proc.chdir> {
    return proc.chdir(this.#e, ...a);
  }

  fetch(...a: _Args<typeof net.fetchUrl>): ReturnType<typeof net.fetchUrl> {
    return net.fetchUrl(this.#e, ...a);
  }

  runShell(...a: _Args<typeof shell.runShell>): ReturnType<typeof shell.runShell> {
    return shell.runShell(this.#e, ...a);
  }

  proposeTool(...a: _Args<typeof jit.proposeTool>): ReturnType<typeof jit.proposeTool> {
    return jit.proposeTool(this.#e, ...a);
  }

  registerTool(...a: _Args<typeof jit.registerTool>): ReturnType<typeof jit.registerTool> {
    return jit.registerTool(this.#e, ...a);
  }

  checkpoint(...a: _Args<typeof checkpoint.checkpoint>): ReturnType<typeof checkpoint.checkpoint> {
    return checkpoint.checkpoint(this.#e, ...a);
  }

  now(...a: _Args<typeof clock.now>): ReturnType<typeof clock.now> {
    return clock.now(this.#e, ...a);
  }

  sleep(...a: _Args<typeof clock.sleep>): ReturnType<typeof clock.sleep> {
    return clock.sleep(this.#e, ...a);
  }

  mcpCall(...a: _Args<typeof mcp.mcpCall>): ReturnType<typeof mcp.mcpCall> {
    return mcp.mcpCall(this.#e, ...a);
  }

  mcpReadResource(...a: _Args<typeof mcp.mcpReadResource>): ReturnType<typeof mcp.mcpReadResource> {
    return mcp.mcpReadResource(this.#e, ...a);
  }

  sendMessage(...a: _Args<typeof mbox.send>): ReturnType<typeof mbox.send> {
    return mbox.send(this.#e, ...a);
  }

  receiveMessage(...a: _Args<typeof mbox.receive>): ReturnType<typeof mbox.receive> {
    return mbox.receive(this.#e, ...a);
  }
}
