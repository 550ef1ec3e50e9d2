/**
 * The tool SDK: what a tool file imports as `libos/tool`. A tool is a module
 * whose default export is made by {@linkcode defineTool}; it reaches the world
 * only through `sys`, whose every method is a kernel primitive (capability
 * check, maybe a human, journal, audit).
 *
 * This module imports nothing but zod, so it loads inside an isolate.
 *
 * @example
 * ```ts
 * import { defineTool, z } from "libos/tool";
 * export default defineTool({
 *   name: "count_lines",
 *   description: "Count lines in a text file of the working directory",
 *   input: z.object({ path: z.string() }),
 *   output: z.object({ lines: z.number() }),
 *   async run({ path }, sys) {
 *     const text = await sys.fs.readText(path);
 *     return { lines: text.split("\n").length };
 *   },
 * });
 * ```
 *
 * @module
 */
import { z } from "zod";

export { z };

/** A directory entry. */
export interface ToolDirEntry {
  name: string;
  kind: "file" | "dir" | "symlink";
  size: number;
}

/** Summary of an object. */
export interface ToolObjectInfo {
  oid: string;
  namespace: string;
  name: string;
  type: string;
  version: number;
  size: number;
}

/** A capability grant as requested. */
export interface ToolGrantSpec {
  resource: string;
  rights: string[];
  effect?: "allow" | "deny" | "ask";
  uses?: number;
  expiresAt?: string;
  delegable?: boolean;
}

/**
 * The syscall proxy a tool receives. Every method is a kernel primitive and
 * throws an error with a `code` (`EPERM`, `ENOENT`, …) when it fails.
 */
export interface ToolSys {
  fs: {
    readText(path: string): Promise<string>;
    readBytes(path: string): Promise<Uint8Array>;
    write(path: string, data: string | Uint8Array): Promise<{ path: string; bytes: number }>;
    list(path: string): Promise<ToolDirEntry[]>;
    stat(
      path: string,
    ): Promise<{ kind: "file" | "dir" | "symlink"; size: number; mtimeMs: number } | null>;
    delete(path: string): Promise<{ path: string }>;
    mkdir(path: string): Promise<{ path: string }>;
  };
  obj: {
    create(
      input: { name: string; type: string; payload: unknown; namespace?: string },
    ): Promise<ToolObjectInfo>;
    read(
      ref: string,
    ): Promise<ToolObjectInfo & { payload: unknown; links: { rel: string; oid: string }[] }>;
    write(ref: string, payload: unknown): Promise<ToolObjectInfo>;
    list(namespace?: string): Promise<ToolObjectInfo[]>;
    link(from: string, rel: string, to: string): Promise<ToolObjectInfo>;
    delete(ref: string): Promise<{ oid: string }>;
    fromFile(
      path: string,
      name: string,
      type?: string,
    ): Promise<ToolObjectInfo & { sha256: string }>;
    toFile(ref: string, path: string): Promise<{ path: string; bytes: number; sha256: string }>;
  };
  human: {
    ask(question: string): Promise<{ answer: string }>;
    notify(message: string): Promise<{ delivered: true }>;
    requestPermission(
      resource: string,
      rights: string[],
      reason: string,
    ): Promise<{ granted: true; grantId: string }>;
  };
  proc: {
    spawn(
      input: { goal: string; image?: string; capabilities?: ToolGrantSpec[] },
    ): Promise<{ pid: string }>;
    fork(
      input: { goal: string; capabilities?: ToolGrantSpec[]; objects?: string[] },
    ): Promise<{ pid: string }>;
    wait(
      pid: string,
    ): Promise<{ pid: string; state: string; result: unknown; reason: string | null }>;
    signal(
      pid: string,
      signal: "pause" | "resume" | "cancel" | "kill",
    ): Promise<{ pid: string; state: string }>;
    exit(result: unknown): Promise<{ exited: true }>;
    cwd(): Promise<{ cwd: string }>;
    chdir(path: string): Promise<{ cwd: string }>;
  };
  net: {
    /** Fetches under a `net:` grant; the body is `text`, or `base64` when it is not UTF-8. */
    fetch(
      request: { url: string; method?: string; headers?: Record<string, string>; body?: string },
    ): Promise<{
      status: number;
      headers: Record<string, string>;
      url: string;
      redirects: string[];
      text?: string;
      base64?: string;
    }>;
  };
  shell: {
    /** Runs a program (argv, no shell) in the working directory under a `shell:` grant. */
    run(argv: string[], options?: { timeoutMs?: number }): Promise<{
      code: number | null;
      signal: string | null;
      stdout: string;
      stderr: string;
      truncated: boolean;
      timedOut: boolean;
      confined: boolean;
    }>;
  };
  clock: {
    now(): Promise<{ now: number; iso: string }>;
    sleep(ms: number): Promise<{ slept: number }>;
  };
  /** Mailboxes (README "Mailboxes"): `send` needs `send` on the channel, `receive` `receive`. */
  mbox: {
    send(
      input: { to: string; type?: string; body: unknown },
    ): Promise<{ id: string; channel: string; sentAt: number }>;
    receive(input?: { from?: string; timeoutMs?: number }): Promise<
      | {
        timedOut: false;
        message: {
          id: string;
          channel: string;
          from: string | null;
          type: string;
          body: unknown;
          sentAt: number;
        };
      }
      | { timedOut: true; message: null }
    >;
  };
  /** Writes a line to the tool's log (journaled, never shown to other processes). */
  log(...args: unknown[]): void;
}

/** What `defineTool` takes. */
export interface ToolDefinition<I extends z.ZodType, O extends z.ZodType> {
  /** The name the model calls (lower case, digits, `_`). */
  name: string;
  description: string;
  input: I;
  output: O;
  run(input: z.infer<I>, sys: ToolSys): Promise<z.infer<O>>;
}

/** A defined tool: the definition, checked. */
export interface Tool<I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType>
  extends ToolDefinition<I, O> {
  readonly kind: "libos.tool";
}

const NAME = /^[a-z][a-z0-9_]{0,63}$/;

/** Defines a tool; throws TypeError for a malformed definition. */
export function defineTool<I extends z.ZodType, O extends z.ZodType>(
  definition: ToolDefinition<I, O>,
): Tool<I, O> {
  if (typeof definition?.name !== "string" || !NAME.test(definition.name)) {
    throw new TypeError(
      `Cannot define tool ${JSON.stringify(definition?.name)}: the name must match ${NAME}`,
    );
  }
  if (typeof definition.description !== "string" || definition.description.length === 0) {
    throw new TypeError(`Cannot define tool '${definition.name}': it needs a description`);
  }
  if (!(definition.input instanceof z.ZodType) || !(definition.output instanceof z.ZodType)) {
    throw new TypeError(
      `Cannot define tool '${definition.name}': input and output must be zod schemas`,
    );
  }
  if (typeof definition.run !== "function") {
    throw new TypeError(`Cannot define tool '${definition.name}': run must be a function`);
  }
  return Object.freeze({ ...definition, kind: "libos.tool" as const });
}
