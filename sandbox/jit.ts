/**
 * The sandbox's half of JIT tools (DESIGN §2, "JIT tool"): a proposal goes
 * through four gates in order, and the first that fails ends it with a report
 * written for the model that proposed it.
 *
 * 1. **static** — the source is parsed and refused for what a tool may not do
 *    (`jit_static_check.ts`);
 * 2. **typecheck** — an offline TypeScript check against the real
 *    `libos/tool` types (`jit_typecheck.ts`);
 * 3. **describe** — the tool is loaded in an isolate and says what it is (its
 *    name and JSON Schemas), exactly as a tool file is;
 * 4. **tests** — each of the proposal's tests runs in an isolate against a
 *    MOCK `sys`: a syscall answers the test's canned value, a canned
 *    `{error: {code, message}}` fails it, and a syscall the test does not list
 *    fails with `EPERM`. Nothing reaches the kernel's primitives.
 *
 * The candidate is `sha256:<hex>` of the exact source (`toolHash`), so a
 * script can name it before proposing. Registering the candidate (the
 * `tool:register` capability, the process's tool table, lineage) is the
 * kernel's part.
 *
 * Measured on the shared 2-core development machine with
 * `deno run -A sandbox/testdata/jit/propose_p50.ts`: propose → accepted for a
 * small tool with two tests takes ≈ 0.7 s at the median once warm (≈ 0.5 s of
 * it the type-check) and ≈ 3 s for a kernel's first proposal.
 *
 * @example
 * ```ts ignore
 * await using runner = await IsolateToolRunner.create();
 * const proposal = await proposeTool(runner, {
 *   source,
 *   tests: [{ name: "counts", input: { path: "a.txt" }, sys: { "fs.readText": "a\nb\n" }, expect: { lines: 2 } }],
 * });
 * if (!proposal.ok) console.log(proposal.stage, proposal.report); // back to the model
 * ```
 *
 * @module
 */
import { isDeepStrictEqual } from "node:util";
import { z } from "zod";
import { type ErrorCode, type ErrorData, libosError } from "../runtime/mod.ts";
import { staticCheck } from "./jit_static_check.ts";
import { JIT_TOOL_FILE, typecheck } from "./jit_typecheck.ts";
import { type SyscallArgs, type SyscallName, SYSCALLS, type ToolCode } from "./protocol.ts";
import {
  type ToolDescription,
  toolHash,
  type ToolRunRequest,
  type ToolRunResult,
} from "./tool_runner.ts";

/** The error codes a canned syscall failure may carry: the ones a primitive gives a tool. */
export const JIT_MOCK_ERROR_CODES = [
  "EPERM",
  "ENOENT",
  "EEXIST",
  "EINVAL",
  "ESTATE",
  "EBUDGET",
  "EQUOTA",
  "ELIMIT",
  "ETIMEDOUT",
  "EDENIED",
  "EEXPIRED",
  "EUNKNOWN",
] as const satisfies readonly ErrorCode[];

/** Most tests one proposal may carry. */
export const JIT_MAX_TESTS = 20;

const _syscallNames = Object.keys(SYSCALLS) as SyscallName[];

/** One test of a proposal, as the model writes it. */
export const JitTestSchema = z.object({
  name: z.string().min(1).max(200),
  /** The tool's input. */
  input: z.unknown(),
  /** The output the tool must return (deep-equal). */
  expect: z.unknown().optional(),
  /** The error code the call must fail with (`EPERM`, `ETOOL`, `ETIMEDOUT`, …). */
  expectError: z.string().min(1).max(32).optional(),
  /** Canned answers by syscall name (`"fs.readText"`): a value, or `{error: {code, message}}`. */
  sys: z.record(z.string(), z.unknown()).optional(),
}).strict().superRefine((test, ctx) => {
  if (test.expect !== undefined && test.expectError !== undefined) {
    ctx.addIssue({ code: "custom", message: "a test expects an output or an error, not both" });
  }
  for (const name of Object.keys(test.sys ?? {})) {
    if (!(_syscallNames as string[]).includes(name)) {
      ctx.addIssue({
        code: "custom",
        path: ["sys", name],
        message: `'${name}' is not a syscall; the syscalls are ${_syscallNames.join(", ")}`,
      });
    }
  }
});

/** A test of a proposal. */
export type JitTest = z.infer<typeof JitTestSchema>;

/** The input of `propose_tool`. */
export const JitProposalInputSchema = z.object({
  source: z.string().min(1),
  tests: z.array(JitTestSchema).max(JIT_MAX_TESTS).optional(),
}).strict();

/** The input of {@linkcode proposeTool}. */
export type JitProposalInput = z.infer<typeof JitProposalInputSchema>;

/** How one test went. */
export interface JitTestResult {
  name: string;
  ok: boolean;
  /** The tool's output, when it returned one. */
  output?: unknown;
  /** The tool's error, when it failed. */
  error?: ErrorData;
}

/** The gate a proposal failed at. */
export type JitStage = "static" | "typecheck" | "describe" | "tests";

/** The outcome of {@linkcode proposeTool}. */
export type JitProposal =
  | {
    ok: true;
    /** `sha256:<hex>` of the source: what `register_tool` names. */
    candidate: string;
    name: string;
    description: ToolDescription;
    tests: JitTestResult[];
  }
  | {
    ok: false;
    candidate: string;
    stage: JitStage;
    /** Compiler, check or test output for the model, at most 8 KiB of UTF-8. */
    report: string;
  };

/** What a proposal needs from the sandbox: {@linkcode IsolateToolRunner} has it. */
export interface JitToolRunner {
  run(req: ToolRunRequest): Promise<ToolRunResult>;
  describeCode(code: ToolCode, label: string): Promise<ToolDescription>;
}

/** Options of {@linkcode proposeTool}. */
export interface ProposeToolOptions {
  /**
   * The pseudo-process the tests run under: hosts are bound to it. Default
   * `"@jit"`. The kernel may pass one per proposing process (and release it
   * when that process ends) so that no two agents' tests share a host.
   */
  pid?: string;
  /** Deadline of each test call, in ms; past it the call fails with `ETIMEDOUT`. Default 5000. */
  testDeadlineMs?: number;
  /** Largest source accepted, in bytes of UTF-8. Default 64 KiB. */
  maxSourceBytes?: number;
}

/** Most bytes of a report. */
export const JIT_REPORT_BYTES = 8192;
const _VALUE_CHARS = 600;
const _LOG_LINES = 10;
const _CALLS_SHOWN = 10;

/**
 * Checks a proposed tool through the four gates and runs its tests against a
 * mock `sys`. Resolves with the outcome; rejects only with `EINVAL` for a
 * malformed input (not a string source, a malformed test).
 */
export async function proposeTool(
  runner: JitToolRunner,
  input: JitProposalInput,
  options: ProposeToolOptions = {},
): Promise<JitProposal> {
  const parsed = JitProposalInputSchema.safeParse(input);
  if (!parsed.success) {
    throw libosError(
      "EINVAL",
      `Cannot propose tool: ${
        parsed.error.issues.map((i) => `${i.path.join(".") || "(input)"}: ${i.message}`).join("; ")
      }`,
    );
  }
  const { source, tests = [] } = parsed.data;
  const candidate = toolHash(source);
  const fail = (stage: JitStage, report: string): JitProposal => ({
    ok: false,
    candidate,
    stage,
    report: _clipBytes(report, JIT_REPORT_BYTES),
  });

  const maxBytes = options.maxSourceBytes ?? 64 << 10;
  const bytes = new TextEncoder().encode(source).length;
  if (bytes > maxBytes) {
    return fail(
      "static",
      `The source is ${bytes} bytes, over the ${maxBytes}-byte limit of a JIT tool.`,
    );
  }

  const checked = await staticCheck(source);
  if (!checked.ok) {
    const n = checked.problems.length;
    return fail(
      "static",
      [
        `The static check refused the tool (${n} problem${n === 1 ? "" : "s"}):`,
        ...checked.problems.map((p) => `${JIT_TOOL_FILE}:${p.line}:${p.column} ${p.message}`),
      ].join("\n"),
    );
  }

  const typed = await typecheck(source);
  if (!typed.ok) return fail("typecheck", `The type-check failed:\n${typed.diagnostics}`);

  let description: ToolDescription;
  try {
    description = await runner.describeCode({ source, hash: candidate }, candidate);
  } catch (error) {
    const e = error as { code?: string; message?: string };
    return fail(
      "describe",
      `Loading the tool in an isolate failed: ${e.code ?? "EINVAL"}: ${e.message ?? String(error)}`,
    );
  }

  const results: JitTestResult[] = [];
  const details: string[] = [];
  for (const test of tests) {
    const run = await _runTest(runner, { source, candidate, test, options });
    results.push(run.result);
    details.push(run.detail);
  }
  const failed = results.filter((r) => !r.ok).length;
  if (failed > 0) {
    return fail(
      "tests",
      [`${failed} of ${results.length} test${results.length === 1 ? "" : "s"} failed:`, ...details]
        .join("\n"),
    );
  }
  return { ok: true, candidate, name: description.name, description, tests: results };
}

/** Runs one test against its mock sys; returns its result and a report paragraph. */
async function _runTest(
  runner: JitToolRunner,
  context: { source: string; candidate: string; test: JitTest; options: ProposeToolOptions },
): Promise<{ result: JitTestResult; detail: string }> {
  const { test, options } = context;
  const calls: string[] = [];
  const logs: string[] = [];
  let callCount = 0;
  const syscall = (name: SyscallName, args: SyscallArgs): Promise<unknown> => {
    callCount += 1;
    const canned = test.sys !== undefined && Object.hasOwn(test.sys, name)
      ? { found: true as const, value: test.sys[name] }
      : { found: false as const };
    let outcome: { ok: true; value: unknown } | { ok: false; error: ErrorData };
    if (!canned.found) {
      outcome = {
        ok: false,
        error: {
          code: "EPERM",
          message:
            `Cannot run ${name} in test '${test.name}': its mock sys does not list '${name}'`,
        },
      };
    } else {
      outcome = _canned(name, canned.value);
    }
    if (calls.length < _CALLS_SHOWN) {
      const answer = outcome.ok ? _show(outcome.value, 120) : outcome.error.code;
      calls.push(`${name} ${_show(args, 160)} → ${answer}`);
    }
    if (outcome.ok) return Promise.resolve(outcome.value);
    return Promise.reject(libosError(outcome.error.code, outcome.error.message));
  };
  const run = await runner.run({
    pid: options.pid ?? "@jit",
    tool: { source: context.source, hash: context.candidate },
    args: test.input ?? null,
    deadlineMs: options.testDeadlineMs ?? 5000,
    syscall,
    log: (line) => {
      if (logs.length < _LOG_LINES) logs.push(line);
    },
  });
  let ok: boolean;
  let why: string;
  if (test.expectError !== undefined) {
    ok = !run.ok && run.error.code === test.expectError;
    why = run.ok
      ? `expected error ${test.expectError}, got output ${_show(run.value, _VALUE_CHARS)}`
      : `expected error ${test.expectError}, got ${run.error.code}: ${run.error.message}`;
  } else if (!run.ok) {
    ok = false;
    why = `failed with ${run.error.code}: ${run.error.message}`;
  } else if (test.expect !== undefined) {
    ok = isDeepStrictEqual(run.value, test.expect);
    why = `expected output ${_show(test.expect, _VALUE_CHARS)}\n  got output      ${
      _show(run.value, _VALUE_CHARS)
    }`;
  } else {
    ok = true;
    why = "";
  }
  const result: JitTestResult = run.ok
    ? { name: test.name, ok, output: run.value }
    : { name: test.name, ok, error: run.error };
  if (ok) return { result, detail: `✓ ${test.name}` };
  const lines = [`✗ ${test.name}: ${why}`];
  if (callCount > 0) {
    lines.push(`  syscalls (${callCount}):`, ...calls.map((c) => `    ${c}`));
    if (callCount > calls.length) lines.push(`    … ${callCount - calls.length} more`);
  }
  if (logs.length > 0) lines.push("  log:", ...logs.map((l) => `    ${_oneLine(l, 300)}`));
  return { result, detail: lines.join("\n") };
}

/** A canned answer: `{error: {code, message}}` fails the syscall; any other value is returned. */
function _canned(
  name: SyscallName,
  value: unknown,
): { ok: true; value: unknown } | { ok: false; error: ErrorData } {
  const failure = _CannedError.safeParse(value);
  if (failure.success) {
    return {
      ok: false,
      error: {
        code: failure.data.error.code,
        message: failure.data.error.message ?? `Cannot run ${name}: the test's mock says so`,
      },
    };
  }
  // JSON cannot carry bytes: a canned fs.readBytes answer may be a string (its UTF-8) or numbers.
  if (name === "fs.readBytes") {
    if (typeof value === "string") return { ok: true, value: new TextEncoder().encode(value) };
    if (Array.isArray(value) && value.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) {
      return { ok: true, value: Uint8Array.from(value as number[]) };
    }
  }
  return { ok: true, value: value ?? null };
}

const _CannedError = z.object({
  error: z.object({ code: z.enum(JIT_MOCK_ERROR_CODES), message: z.string().optional() }).strict(),
}).strict();

/** A log line on one line, clipped. */
function _oneLine(text: string, max: number): string {
  const line = text.replace(/\r?\n/g, "\\n");
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

/** A value as a short one-line JSON text. */
function _show(value: unknown, max: number): string {
  let text: string;
  if (value instanceof Uint8Array) {
    text = `Uint8Array(${value.length})`;
  } else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Cuts text to at most `max` bytes of UTF-8, at a character boundary, marking the cut. */
function _clipBytes(text: string, max: number): string {
  const encoder = new TextEncoder();
  if (encoder.encode(text).length <= max) return text;
  const marker = "\n… (report cut)";
  const budget = max - encoder.encode(marker).length;
  // A cut inside a multi-byte character decodes to U+FFFD: drop it.
  const cut = new TextDecoder().decode(encoder.encode(text).subarray(0, budget)).replace(
    /\uFFFD$/,
    "",
  );
  return cut + marker;
}
