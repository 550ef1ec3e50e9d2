/**
 * The deterministic demo (`deno task demo`): a scripted coding agent works on
 * a small fixture repository with no network and no model. It copies a log
 * into an object, forks a worker with a read-only view of that object, waits
 * for it, is denied a write it holds no grant for, asks a human for a write it
 * may only do with approval (a scripted operator approves), writes a report
 * object, and the audit chain verifies. Exit code 0 when all of that happened.
 *
 * The worker parses the log with a tools-folder tool (`parse_log`, run in an
 * isolate host); the agent writes a JIT tool, has it checked and tested in the
 * sandbox, registers it and calls it; a checkpoint is taken before the edit.
 */
import { join } from "node:path";
import { SandboxTools } from "../sandbox/mod.ts";
import {
  type AgentImageInput,
  bodyText,
  FakeClock,
  type JournalEntry,
  Kernel,
  LocalFilesystem,
  SqliteStore,
  type ToolResult,
} from "../mod.ts";

const FIXTURE: Record<string, string> = {
  "README.md": "# calc\nA tiny calculator library.\n",
  "src/calc.ts": "export function add(a: number, b: number) {\n  return a + b;\n}\n",
  "logs/test.log": "ok add\nFAIL sub: expected 1, got -1\nok mul\nFAIL div: division by zero\n",
};

const worker = [
  { tool: "parse_log", args: { ref: "proc/p_1/testlog" } },
  { tool: "write_object", args: { ref: "proc/p_1/testlog", payload: { lines: [] } } },
  { tool: "exit", args: { result: { parsed: { $ref: "steps[0].result.value" } } } },
];

/** The JIT tool the agent writes: counts exported functions in a file. */
const EXPORTS_TOOL = `import { defineTool, z } from "libos/tool";
export default defineTool({
  name: "count_exports",
  description: "Count the exported functions of a TypeScript file",
  input: z.object({ path: z.string() }),
  output: z.object({ exports: z.number() }),
  async run({ path }, sys) {
    const text = await sys.fs.readText(path);
    return { exports: (text.match(/^export function /gm) ?? []).length };
  },
});
`;

const exportsTests = [
  {
    name: "two",
    input: { path: "x.ts" },
    expect: { exports: 2 },
    sys: { "fs.readText": "export function a() {}\nexport function b() {}\n" },
  },
];

const coder: AgentImageInput = {
  id: "demo-coder",
  name: "Demo coding agent",
  version: "1.0.0",
  description: "Fixes the calculator, with a human in the loop",
  model: {
    provider: "scripted",
    steps: [
      { tool: "list_directory", args: { path: "." } },
      { tool: "read_text_file", args: { path: "src/calc.ts" } },
      { tool: "file_to_object", args: { path: "logs/test.log", name: "testlog", type: "log" } },
      {
        text: "A worker reads the log; it may see that one object and nothing else.",
        calls: [{
          tool: "fork_process",
          args: { goal: "find the failing tests", objects: ["testlog"] },
        }],
      },
      { tool: "wait_process", args: { pid: { $ref: "steps[3].result.value.pid" } } },
      { tool: "propose_tool", args: { source: EXPORTS_TOOL, tests: exportsTests } },
      { tool: "register_tool", args: { candidate: { $ref: "steps[5].result.value.candidate" } } },
      { tool: "count_exports", args: { path: "src/calc.ts" } },
      { tool: "checkpoint", args: { reason: "before editing src/calc.ts" } },
      { tool: "write_text_file", args: { path: "README.md", text: "# hacked\n" } },
      {
        tool: "write_text_file",
        args: {
          path: "src/calc.ts",
          text:
            "export function add(a: number, b: number) {\n  return a + b;\n}\n\nexport function sub(a: number, b: number) {\n  return a - b;\n}\n",
        },
      },
      {
        tool: "create_object",
        args: {
          name: "report",
          type: "report",
          payload: {
            title: "calc fixes",
            body: "Added sub(); div still fails.",
            data: {
              log: { $ref: "steps[4].result.value.result.parsed" },
              exportsBefore: { $ref: "steps[7].result.value.exports" },
            },
          },
        },
      },
      { tool: "exit", args: { result: { report: { $ref: "steps[11].result.value.oid" } } } },
    ],
    forked: worker,
  },
  tools: [
    "list_directory",
    "read_text_file",
    "write_text_file",
    "file_to_object",
    "fork_process",
    "wait_process",
    "read_object",
    "write_object",
    "create_object",
    "propose_tool",
    "register_tool",
    "checkpoint",
    "parse_log",
    "exit",
  ],
  capabilities: [
    { resource: "fs:**", rights: ["read", "list"] },
    { resource: "fs:src/**", rights: ["write"], effect: "ask" },
    { resource: "proc", rights: ["fork"] },
    { resource: "tool", rights: ["register"] },
    { resource: "checkpoint", rights: ["create"] },
  ],
  budgets: { steps: 20, toolCalls: 20 },
};

function summarize(value: unknown, max = 110): string {
  const s = JSON.stringify(value) ?? "null";
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

function transcript(pid: string, journal: JournalEntry[]): string[] {
  const lines: string[] = [];
  for (const e of journal) {
    if (e.kind === "model.response") {
      const calls = e.data["calls"] as { name: string; args: unknown }[];
      if (typeof e.data["text"] === "string") lines.push(`${pid}  model: "${e.data["text"]}"`);
      for (const c of calls) lines.push(`${pid}  → ${c.name} ${summarize(c.args, 90)}`);
    } else if (e.kind === "tool.end") {
      const r = e.data["result"] as ToolResult;
      lines.push(
        `${pid}  ← ${r.ok ? `ok ${summarize(r.value)}` : `${r.error.code}: ${r.error.message}`}`,
      );
    } else if (e.kind === "human") {
      lines.push(`${pid}  [human] ${e.data["requestId"]} ${e.data["decision"]} by ${e.data["by"]}`);
    }
  }
  return lines;
}

/** Runs the demo in `dir`; returns the lines it printed and whether it passed. */
export async function runDemo(
  dir: string,
  print: (line: string) => void = console.log,
): Promise<boolean> {
  const workspace = join(dir, "repo");
  for (const [path, text] of Object.entries(FIXTURE)) {
    await Deno.mkdir(join(workspace, path, ".."), { recursive: true });
    await Deno.writeTextFile(join(workspace, path), text);
  }
  const store = await SqliteStore.open(join(dir, "kernel.db"));
  await using tools = await SandboxTools.create();
  await using kernel = await Kernel.create({
    store,
    filesystem: new LocalFilesystem(workspace),
    clock: new FakeClock(Date.UTC(2026, 10, 25)),
    toolHost: tools,
  });
  print("== Agent libOS demo: a coding agent on a fixture repository (scripted model, no network)");
  print(`== sandbox: ${tools.confinement.notice}`);
  using _operator = kernel.subscribe((e) => {
    if (e.type === "human" && e.request.state === "pending") {
      print(`[operator] request ${e.request.id} from ${e.request.pid}:`);
      for (const line of bodyText(e.request.preview).split("\n").slice(0, 4)) {
        print(`[operator]   ${line}`);
      }
      print(`[operator] approves ${e.request.id}`);
      queueMicrotask(() =>
        void kernel.answer(e.request.id, { decision: "approve" }, { actor: "operator:demo" })
      );
    }
  });
  const p = await kernel.spawn({ image: coder, goal: "Make the failing calculator tests pass" }, {
    actor: "operator:demo",
  });
  const done = await kernel.wait(p.pid, { until: "terminal" });
  print("");
  for (const q of kernel.list()) {
    print(
      `-- ${q.pid} (${q.forkedFrom === null ? "agent" : `fork of ${q.forkedFrom}`}): ${q.state}`,
    );
    for (const line of transcript(q.pid, await kernel.journal(q.pid))) print(line);
  }
  const denied = (await kernel.audit({ pid: p.pid })).filter((r) => r.decision === "deny");
  const fixed = await Deno.readTextFile(join(workspace, "src/calc.ts"));
  const readme = await Deno.readTextFile(join(workspace, "README.md"));
  const report = kernel.listObjects(`proc/${p.pid}`).find((o) => o.name === "report");
  const verified = await kernel.verifyAudit();
  print("");
  print(
    `denied and audited: ${denied.map((r) => `#${r.seq} ${r.action} ${r.resource}`).join(", ")}`,
  );
  print(
    `src/calc.ts now has sub(): ${fixed.includes("function sub")}; README.md untouched: ${
      readme === FIXTURE["README.md"]
    }`,
  );
  print(`report object: ${report?.oid} ${summarize(report?.payload)}`);
  print(
    `audit chain: ${
      verified.ok
        ? `verified, ${verified.count} records`
        : `BROKEN at ${verified.seq}: ${verified.reason}`
    }`,
  );
  const checkpoints = await kernel.listCheckpoints(p.pid);
  const jit = kernel.get(p.pid).jitTools.find((t) => t.registered);
  print(`checkpoints: ${checkpoints.map((c) => `${c.id} (${c.reason})`).join(", ")}`);
  print(
    `JIT tool: ${jit?.name} ${
      jit?.hash.slice(0, 23)
    }… written by ${jit?.proposedBy} in step ${jit?.step}`,
  );
  const ok = done.state === "exited" && denied.length >= 1 && fixed.includes("function sub") &&
    readme === FIXTURE["README.md"] && report !== undefined && verified.ok &&
    checkpoints.length === 1 && jit?.name === "count_exports";
  print(ok ? "== demo passed" : "== demo FAILED");
  return ok;
}

if (import.meta.main) {
  const dir = await Deno.makeTempDir({ prefix: "libos-demo-" });
  try {
    Deno.exitCode = (await runDemo(dir)) ? 0 : 1;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
