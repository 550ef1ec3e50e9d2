/**
 * Test fixtures: a kernel on an in-memory filesystem with fake time, and a
 * terse way to write scripted images.
 *
 * @module
 */
import {
  type AgentImageInput,
  FakeClock,
  type GrantSpec,
  Kernel,
  type KernelOptions,
  MemoryFilesystem,
  type ProcessRecord,
  type ToolResult,
} from "../mod.ts";

/** A kernel with its fake clock and filesystem. */
export interface TestKernel extends AsyncDisposable {
  kernel: Kernel;
  clock: FakeClock;
  fs: MemoryFilesystem;
}

/** Boots a kernel on an in-memory filesystem holding `files`, with fake time. */
export async function bootKernel(
  options:
    & { files?: Record<string, string>; start?: number }
    & Omit<KernelOptions, "clock" | "filesystem"> = {},
): Promise<TestKernel> {
  const clock = new FakeClock(options.start ?? Date.UTC(2026, 0, 1));
  const fs = new MemoryFilesystem();
  for (const [path, text] of Object.entries(options.files ?? {})) {
    await fs.writeBytes(path, new TextEncoder().encode(text), { createParents: true });
  }
  const { files: _f, start: _s, ...rest } = options;
  const kernel = await Kernel.create({ ...rest, clock, filesystem: fs });
  return { kernel, clock, fs, [Symbol.asyncDispose]: () => kernel.close() };
}

/** One scripted step: a tool call. */
export function call(
  tool: string,
  args: Record<string, unknown> = {},
): { tool: string; args: Record<string, unknown> } {
  return { tool, args };
}

let imageCounter = 0;

/** A scripted image with every primitive tool unless `tools` says otherwise. */
export function scripted(
  steps: ({ tool: string; args: Record<string, unknown> } | {
    text?: string;
    calls?: { tool: string; args: Record<string, unknown> }[];
  })[],
  options: {
    capabilities?: GrantSpec[];
    tools?: string[];
    budgets?: AgentImageInput["budgets"];
    id?: string;
    forked?: typeof steps;
  } = {},
): AgentImageInput & { id: string } {
  return {
    id: options.id ?? `test-${++imageCounter}`,
    name: "test image",
    version: "1",
    model: {
      provider: "scripted",
      steps,
      ...(options.forked === undefined ? {} : { forked: options.forked }),
    },
    tools: options.tools ?? ["*"],
    capabilities: options.capabilities ?? [],
    ...(options.budgets === undefined ? {} : { budgets: options.budgets }),
  };
}

/** Spawns an image and waits until the process ends. */
export async function runImage(
  kernel: Kernel,
  image: AgentImageInput,
  goal = "test",
): Promise<ProcessRecord> {
  const p = await kernel.spawn({ image, goal });
  return await kernel.wait(p.pid, { until: "terminal" });
}

/** The tool results of a process, in order, from its journal. */
export async function toolResults(
  kernel: Kernel,
  pid: string,
): Promise<{ name: string; result: ToolResult }[]> {
  const out: { name: string; result: ToolResult }[] = [];
  for (const e of await kernel.journal(pid)) {
    if (e.kind === "tool.end") {
      out.push({ name: e.data["name"] as string, result: e.data["result"] as ToolResult });
    }
  }
  return out;
}

/** Reads a file of a MemoryFilesystem as text, or null when it is missing. */
export async function fileText(fs: MemoryFilesystem, path: string): Promise<string | null> {
  const st = await fs.stat(path);
  if (st === null) return null;
  return new TextDecoder().decode(await fs.readBytes(path));
}

/** "ok", or the error code of a failed tool result. */
export function outcome(r: { result: ToolResult } | undefined): string {
  if (r === undefined) return "missing";
  return r.result.ok ? "ok" : r.result.error.code;
}
