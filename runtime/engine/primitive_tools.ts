/**
 * The primitive tools: stable model-facing names for kernel primitives
 * (DESIGN §2). They run in the kernel because they are kernel code; each is a
 * thin adapter from validated arguments to one `Syscalls` method.
 *
 * @module
 */
import { z } from "zod";
import { GrantSpecSchema } from "../images/schemas.ts";
import type { ToolSpec } from "../models/model_provider.ts";
import type { Syscalls } from "./syscalls.ts";
import { PRIMITIVES, type SysName } from "../primitives/table.ts";

/** A primitive tool: its schema and the syscall it makes. */
export interface PrimitiveTool {
  name: string;
  /** The syscall it makes. */
  sys: SysName;
  description: string;
  input: z.ZodType;
  run(sys: Syscalls, args: never): Promise<unknown>;
}

const path = z.string().min(1).max(4096).describe("a path relative to the working directory");
const ref = z.string().min(1).max(512).describe(
  "an oid, 'namespace/name', or a name in your namespace",
);
const grants = z.array(GrantSpecSchema).max(64);

/** A primitive tool for the syscall `sys`: its name comes from the primitives' name table. */
function tool<S extends z.ZodType>(
  sys: SysName,
  description: string,
  input: S,
  run: (sys: Syscalls, args: z.infer<S>) => Promise<unknown>,
): PrimitiveTool {
  const name = PRIMITIVES[sys].tool;
  if (name === null) throw new Error(`syscall ${sys} has no tool in the name table`);
  return { name, sys, description, input, run: run as PrimitiveTool["run"] };
}

const TOOLS: readonly PrimitiveTool[] = [
  tool(
    "fs.readText",
    "Read a UTF-8 text file",
    z.strictObject({ path }),
    (s, a) => s.readText(a.path).then((text) => ({ text })),
  ),
  tool(
    "fs.write",
    "Write a UTF-8 text file (parents are created)",
    z.strictObject({ path, text: z.string() }),
    (s, a) => s.write(a.path, a.text),
  ),
  tool(
    "fs.list",
    "List a directory",
    z.strictObject({ path: path.default(".") }),
    (s, a) => s.list(a.path).then((entries) => ({ entries })),
  ),
  tool(
    "fs.mkdir",
    "Make a directory and its parents",
    z.strictObject({ path }),
    (s, a) => s.mkdir(a.path),
  ),
  tool(
    "fs.delete",
    "Delete a file or an empty directory",
    z.strictObject({ path }),
    (s, a) => s.delete(a.path),
  ),
  tool(
    "obj.create",
    "Create a typed object in a namespace (default: yours)",
    z.strictObject({
      name: z.string(),
      type: z.string(),
      payload: z.unknown(),
      namespace: z.string().optional(),
    }),
    (s, a) =>
      s.create(
        a.namespace === undefined
          ? { name: a.name, type: a.type, payload: a.payload }
          : { name: a.name, type: a.type, payload: a.payload, namespace: a.namespace },
      ),
  ),
  tool(
    "obj.read",
    "Read an object's latest version",
    z.strictObject({ ref }),
    (s, a) => s.read(a.ref),
  ),
  tool(
    "obj.write",
    "Write a new version of an object",
    z.strictObject({ ref, payload: z.unknown() }),
    (s, a) => s.writeObject(a.ref, a.payload),
  ),
  tool(
    "obj.list",
    "List the objects of a namespace (default: yours)",
    z.strictObject({ namespace: z.string().optional() }),
    (s, a) => s.listObjects(a.namespace).then((objects) => ({ objects })),
  ),
  tool(
    "obj.fromFile",
    "Copy a file into an object without reading it into the conversation",
    z.strictObject({ path, name: z.string(), type: z.string().optional() }),
    (s, a) => s.fileToObject(a.path, a.name, a.type),
  ),
  tool(
    "obj.toFile",
    "Write an object's content to a file",
    z.strictObject({ ref, path }),
    (s, a) => s.objectToFile(a.ref, a.path),
  ),
  tool(
    "human.ask",
    "Ask the operator a question and wait for the answer",
    z.strictObject({ question: z.string().min(1).max(10_000) }),
    (s, a) => s.ask(a.question),
  ),
  tool(
    "human.notify",
    "Tell the operator something",
    z.strictObject({ message: z.string().max(10_000) }),
    (s, a) => s.notify(a.message),
  ),
  tool(
    "human.requestPermission",
    "Ask the operator for a capability",
    z.strictObject({
      resource: z.string(),
      rights: z.array(z.string()).min(1),
      reason: z.string().max(10_000),
    }),
    (s, a) => s.requestPermission(a.resource, a.rights, a.reason),
  ),
  tool(
    "proc.spawn",
    "Start a child process from an image (default: yours) with a goal",
    z.strictObject({
      goal: z.string().min(1),
      image: z.string().optional(),
      capabilities: grants.optional(),
    }),
    (s, a) =>
      s.spawn({
        goal: a.goal,
        ...(a.image === undefined ? {} : { image: a.image }),
        ...(a.capabilities === undefined ? {} : { capabilities: a.capabilities }),
      }),
  ),
  tool(
    "proc.fork",
    "Fork yourself with a goal, passing only the named capabilities and objects (read-only)",
    z.strictObject({
      goal: z.string().min(1),
      capabilities: grants.optional(),
      objects: z.array(z.string()).max(64).optional(),
    }),
    (s, a) =>
      s.fork({
        goal: a.goal,
        ...(a.capabilities === undefined ? {} : { capabilities: a.capabilities }),
        ...(a.objects === undefined ? {} : { objects: a.objects }),
      }),
  ),
  tool(
    "proc.wait",
    "Wait for a child process to end",
    z.strictObject({ pid: z.string() }),
    (s, a) => s.wait(a.pid),
  ),
  tool(
    "proc.signal",
    "Send a signal to a descendant",
    z.strictObject({ pid: z.string(), signal: z.enum(["pause", "resume", "cancel", "kill"]) }),
    (s, a) => s.signal(a.pid, a.signal),
  ),
  tool(
    "proc.exit",
    "End this process with a result",
    z.strictObject({ result: z.unknown() }),
    (s, a) => s.exit(a.result),
  ),
  tool("proc.cwd", "The working directory", z.strictObject({}), (s) => s.cwd()),
  tool(
    "proc.chdir",
    "Change the working directory",
    z.strictObject({ path }),
    (s, a) => s.chdir(a.path),
  ),
  tool("clock.now", "The current time", z.strictObject({}), (s) => s.now()),
  tool(
    "shell.run",
    "Run a program (argv, no shell) in your working directory",
    z.strictObject({
      argv: z.array(z.string().max(4096)).min(1).max(256),
      timeoutMs: z.number().int().min(1).max(600_000).optional(),
    }),
    (s, a) => s.runShell(a.argv, a.timeoutMs === undefined ? {} : { timeoutMs: a.timeoutMs }),
  ),
  tool(
    "net.fetch",
    "Fetch a URL (http or https)",
    z.strictObject({
      url: z.string().max(8192),
      method: z.string().max(16).optional(),
      headers: z.record(z.string(), z.string()).optional(),
      body: z.string().max(1 << 20).optional(),
    }),
    (s, a) =>
      s.fetch({
        url: a.url,
        ...(a.method === undefined ? {} : { method: a.method }),
        ...(a.headers === undefined ? {} : { headers: a.headers }),
        ...(a.body === undefined ? {} : { body: a.body }),
      }),
  ),
  tool(
    "tool.propose",
    "Propose a tool you wrote (TypeScript, defineTool from 'libos/tool'); it is checked, type-checked and its tests run in an isolate; answers {candidate, accepted, report?}",
    z.strictObject({
      source: z.string().min(1).max(65_536),
      tests: z.array(z.unknown()).max(20).optional(),
    }),
    (s, a) => s.proposeTool(a.source, a.tests ?? []),
  ),
  tool(
    "tool.register",
    "Add an accepted proposal to your tool table by its candidate hash",
    z.strictObject({ candidate: z.string().regex(/^sha256:[0-9a-f]{64}$/) }),
    (s, a) => s.registerTool(a.candidate),
  ),
  tool(
    "checkpoint.create",
    "Checkpoint yourself (with subtree, your descendants too); after a restore this call answers restored: true",
    z.strictObject({ reason: z.string().max(1000).optional(), subtree: z.boolean().optional() }),
    (s, a) => s.checkpoint(a.reason, { subtree: a.subtree === true }),
  ),
  tool(
    "mcp.readResource",
    "Read a resource of an MCP server your image names (kept as an object too)",
    z.strictObject({ server: z.string().min(1).max(64), uri: z.string().min(1).max(8192) }),
    (s, a) => s.mcpReadResource(a.server, a.uri),
  ),
  tool(
    "mbox.send",
    "Send a typed message to a process's mailbox (to: its pid) or a named channel (to: 'mbox:<name>'); answers {id, channel, sentAt}",
    z.strictObject({
      to: z.string().min(1).max(256),
      type: z.string().max(64).optional().describe("an object type, default json"),
      body: z.unknown(),
    }),
    (s, a) =>
      s.sendMessage({
        to: a.to,
        body: a.body,
        ...(a.type === undefined ? {} : { type: a.type }),
      }),
  ),
  tool(
    "mbox.receive",
    "Take the oldest message of your mailbox (or of channel 'from'), waiting up to timeoutMs (absent: no deadline) for one; answers {timedOut, message: {id, channel, from, type, body, sentAt} | null}",
    z.strictObject({
      from: z.string().min(1).max(256).optional(),
      timeoutMs: z.number().int().min(0).max(604_800_000).optional(),
    }),
    (s, a) =>
      s.receiveMessage({
        ...(a.from === undefined ? {} : { from: a.from }),
        ...(a.timeoutMs === undefined ? {} : { timeoutMs: a.timeoutMs }),
      }),
  ),
  tool(
    "clock.sleep",
    "Sleep for some milliseconds",
    z.strictObject({ ms: z.number().int().min(0).max(604_800_000) }),
    (s, a) => s.sleep(a.ms),
  ),
];

const BY_NAME: ReadonlyMap<string, PrimitiveTool> = new Map(TOOLS.map((t) => [t.name, t]));
const SPECS = new Map<string, ToolSpec>();

/** The primitive tool with this name, if there is one. */
export function primitiveTool(name: string): PrimitiveTool | undefined {
  return BY_NAME.get(name);
}

/** Every primitive tool name. */
export function primitiveToolNames(): string[] {
  return TOOLS.map((t) => t.name);
}

/** The model-facing spec (JSON Schema) of a primitive tool, cached. */
export function primitiveToolSpec(name: string): ToolSpec | undefined {
  const cached = SPECS.get(name);
  if (cached !== undefined) return cached;
  const t = BY_NAME.get(name);
  if (t === undefined) return undefined;
  const spec: ToolSpec = {
    name: t.name,
    description: t.description,
    inputSchema: z.toJSONSchema(t.input, { io: "input", unrepresentable: "any" }) as Record<
      string,
      unknown
    >,
  };
  SPECS.set(name, spec);
  return spec;
}
