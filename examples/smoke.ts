/**
 * The smoke test of real models (`deno task smoke`): an agent on a real
 * endpoint summarizes a small fixture repository into a `report` object, then
 * asks a human's approval to write SUMMARY.md (granted at once with
 * `--auto-approve`, else asked on the terminal). It prints the transcript, the
 * usage with its estimated cost, and a summary of the audit log.
 *
 * It runs on OpenAI (or any server `OPENAI_BASE_URL` names) when
 * `OPENAI_API_KEY` is set, else on Anthropic when `ANTHROPIC_API_KEY` is set;
 * with neither it says so and exits 0.
 *
 * ```sh
 * OPENAI_API_KEY=sk-… deno task smoke --auto-approve
 * OPENAI_API_KEY=none OPENAI_BASE_URL=http://127.0.0.1:11434/v1 deno task smoke --model llama3.2 --auto-approve
 * ANTHROPIC_API_KEY=sk-ant-… deno task smoke --provider anthropic --auto-approve
 * ```
 *
 * Flags: `--auto-approve`, `--provider openai|anthropic`, `--model NAME`
 * (default `gpt-4o-mini` or `claude-haiku-4-5`), `--timeout-ms N` (default 300000).
 * Exit code 0 when the process exited with a report object (and SUMMARY.md
 * when the write was approved).
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  type AgentImageInput,
  type AuditRecord,
  bodyText,
  type JournalEntry,
  Kernel,
  LocalFilesystem,
  type ToolResult,
} from "../mod.ts";
import { costOf, priceOf } from "../runtime/models/cost.ts";
import { modelKeysPresent, providersFromEnv } from "../runtime/models/model_providers.ts";

const FIXTURE: Record<string, string> = {
  "README.md": "# calc\n\nA tiny calculator library with a command-line front end.\n",
  "src/calc.ts":
    "export function add(a: number, b: number): number {\n  return a + b;\n}\n\nexport function div(a: number, b: number): number {\n  return a / b; // TODO: division by zero\n}\n",
  "src/cli.ts":
    'import { add } from "./calc.ts";\nconst [a, b] = Deno.args.map(Number);\nconsole.log(add(a ?? 0, b ?? 0));\n',
  "tests/calc_test.ts":
    'import { add } from "../src/calc.ts";\nDeno.test("add", () => {\n  if (add(1, 2) !== 3) throw new Error("add");\n});\n',
};

const SYSTEM = [
  "You are a careful engineer working in a repository through tools.",
  "1. Use list_directory and read_text_file to look at the repository (start at '.').",
  "2. Call create_object with name 'report', type 'report' and payload {title, body}:",
  "   the body is a summary of what the code does, its files, and one risk you see.",
  "3. Call write_text_file with path 'SUMMARY.md' and the same summary as Markdown.",
  "   A human must approve that write; if it is denied, go on without it.",
  "4. Call exit with result {report: <the oid create_object returned>}.",
  "Call tools only; keep each summary under 150 words.",
].join("\n");

/** What the script prints and returns. */
export interface SmokeOutcome {
  ok: boolean;
  ran: boolean;
}

/** Runs the smoke test (see the module doc); `args` are the command-line flags. */
export async function runSmoke(
  args: string[],
  print: (line: string) => void = console.log,
): Promise<SmokeOutcome> {
  const { values } = parseArgs({
    args,
    options: {
      "auto-approve": { type: "boolean", default: false },
      provider: { type: "string" },
      model: { type: "string" },
      "timeout-ms": { type: "string", default: "300000" },
    },
  });
  const keys = modelKeysPresent(Deno.env);
  if (!keys.openai && !keys.anthropic) {
    print(
      "smoke: no model key is set (OPENAI_API_KEY or ANTHROPIC_API_KEY); nothing to run. " +
        "Set one (for a local server also OPENAI_BASE_URL) and run `deno task smoke --auto-approve`.",
    );
    return { ok: true, ran: false };
  }
  const provider = values.provider ?? (keys.openai ? "openai" : "anthropic");
  if (provider !== "openai" && provider !== "anthropic") {
    throw new TypeError(`--provider must be openai or anthropic, not '${provider}'`);
  }
  const model = values.model ?? (provider === "openai" ? "gpt-4o-mini" : "claude-haiku-4-5");
  const timeoutMs = Number(values["timeout-ms"]);
  const dir = await Deno.makeTempDir({ prefix: "libos-smoke-" });
  try {
    for (const [path, text] of Object.entries(FIXTURE)) {
      await Deno.mkdir(join(dir, path, ".."), { recursive: true });
      await Deno.writeTextFile(join(dir, path), text);
    }
    await using kernel = await Kernel.create({
      filesystem: new LocalFilesystem(dir),
      models: providersFromEnv(Deno.env),
    });
    const image: AgentImageInput = {
      id: "smoke-summarizer",
      name: "Repository summarizer",
      version: "1.0.0",
      systemPrompt: SYSTEM,
      model: { provider, name: model, options: { maxTokens: 1024, temperature: 0 } },
      tools: ["list_directory", "read_text_file", "create_object", "write_text_file", "exit"],
      capabilities: [
        { resource: "fs:**", rights: ["read", "list"] },
        { resource: "fs:SUMMARY.md", rights: ["write"], effect: "ask" },
        { resource: `model:${provider}/${model}`, rights: ["call"] },
      ],
      budgets: { steps: 16, toolCalls: 32, tokens: 200_000, wallTimeMs: timeoutMs },
    };
    print(`== smoke: ${provider}/${model} summarizes a fixture repository`);
    using _operator = kernel.subscribe((e) => {
      if (e.type !== "human" || e.request.state !== "pending") return;
      const id = e.request.id;
      print(`[human] ${id}: ${bodyText(e.request.preview).split("\n")[0]}`);
      const approve = values["auto-approve"] ||
        (Deno.stdin.isTerminal() && confirm(`Approve ${id}?`));
      print(`[human] ${approve ? "approved" : "denied"} ${id}`);
      queueMicrotask(() =>
        void kernel.answer(id, { decision: approve ? "approve" : "deny" }, {
          actor: "operator:smoke",
        })
      );
    });
    const p = await kernel.spawn({ image, goal: "Summarize this repository." }, {
      actor: "operator:smoke",
    });
    const done = await _waitWithDeadline(kernel, p.pid, timeoutMs);
    print("");
    for (const line of _transcript(await kernel.journal(p.pid))) print(line);
    print("");
    print(`process ${p.pid}: ${done.state}${done.reason ? ` (${done.reason})` : ""}`);
    const report = kernel.listObjects(`proc/${p.pid}`).find((o) => o.name === "report");
    print(`report object: ${report ? JSON.stringify(report.payload).slice(0, 400) : "none"}`);
    const summary = await Deno.readTextFile(join(dir, "SUMMARY.md")).catch(() => null);
    print(`SUMMARY.md: ${summary === null ? "not written" : `${summary.length} characters`}`);
    const usage = await _usage(kernel, p.pid, provider, model);
    print(`usage: ${usage}`);
    for (const line of _auditSummary(await kernel.audit({}))) print(line);
    const verified = await kernel.verifyAudit();
    print(`audit chain: ${verified.ok ? `verified, ${verified.count} records` : "BROKEN"}`);
    const approved = kernel.humanRequests({}).some((r) => r.state === "approved");
    const ok = done.state === "exited" && report !== undefined && verified.ok &&
      (!approved || summary !== null);
    print(ok ? "== smoke passed" : "== smoke FAILED");
    return { ok, ran: true };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function _waitWithDeadline(kernel: Kernel, pid: string, ms: number) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
  });
  try {
    const r = await Promise.race([kernel.wait(pid, { until: "terminal" }), deadline]);
    if (r !== "timeout") return r;
    await kernel.signal(pid, "kill");
    return await kernel.wait(pid, { until: "terminal" });
  } finally {
    clearTimeout(timer);
  }
}

function _transcript(journal: JournalEntry[]): string[] {
  const lines: string[] = [];
  const short = (v: unknown, max = 100) => {
    const s = JSON.stringify(v) ?? "null";
    return s.length > max ? `${s.slice(0, max)}…` : s;
  };
  for (const e of journal) {
    if (e.kind === "model.response") {
      const u = e.data["usage"] as { inputTokens: number; outputTokens: number };
      lines.push(
        `model (${u.inputTokens} in, ${u.outputTokens} out, ${e.data["stop"]})` +
          (typeof e.data["text"] === "string" ? `: ${short(e.data["text"], 160)}` : ""),
      );
      for (const c of e.data["calls"] as { name: string; args: unknown }[]) {
        lines.push(`  → ${c.name} ${short(c.args)}`);
      }
    } else if (e.kind === "tool.end") {
      const r = e.data["result"] as ToolResult;
      lines.push(
        `  ← ${r.ok ? `ok ${short(r.value, 80)}` : `${r.error.code}: ${r.error.message}`}`,
      );
    }
  }
  return lines;
}

async function _usage(kernel: Kernel, pid: string, provider: string, model: string) {
  let input = 0;
  let output = 0;
  for (const e of await kernel.journal(pid)) {
    if (e.kind !== "model.response") continue;
    const u = e.data["usage"] as { inputTokens: number; outputTokens: number };
    input += u.inputTokens;
    output += u.outputTokens;
  }
  const p = kernel.get(pid);
  const price = priceOf(provider, model);
  const cost = price === null
    ? "no list price"
    : `≈ $${costOf({ inputTokens: input, outputTokens: output }, price).toFixed(4)}`;
  return `${p.usage.steps} model turns, ${p.usage.toolCalls} tool calls, ${input} input + ${output} output tokens (${cost})`;
}

function _auditSummary(records: AuditRecord[]): string[] {
  const counts = new Map<string, number>();
  for (const r of records) {
    const k = `${r.action} ${r.decision ?? "-"}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [
    `audit: ${records.length} records`,
    ...[...counts.entries()].sort().map(([k, n]) => `  ${k}: ${n}`),
  ];
}

if (import.meta.main) {
  const outcome = await runSmoke(Deno.args);
  Deno.exitCode = outcome.ok ? 0 : 1;
}
