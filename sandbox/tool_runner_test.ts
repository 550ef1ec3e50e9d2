import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { libosError } from "../runtime/mod.ts";
import { hostPaths, probeBubblewrap } from "./host_launch.ts";
import type { SandboxAuditRecord } from "./isolate_host.ts";
import type { SyscallArgs } from "./protocol.ts";
import {
  IsolateToolRunner,
  type IsolateToolRunnerOptions,
  toolHash,
  type ToolRunRequest,
} from "./tool_runner.ts";

const fixture = (name: string) => fileURLToPath(new URL(`./testdata/${name}`, import.meta.url));
const builtin = (name: string) => fileURLToPath(new URL(`../tools/${name}`, import.meta.url));
const HAS_BWRAP = await probeBubblewrap(hostPaths());

const TEST_LIMITS = {
  messageBytes: 1 << 20,
  outputBytes: 64 << 10,
  syscallsPerCall: 300,
  syscallsInFlight: 32,
  hostMemoryBytes: 384 << 20,
  heapMb: 96,
};

function create(options: IsolateToolRunnerOptions = {}): Promise<IsolateToolRunner> {
  return IsolateToolRunner.create({ warm: 1, maxHosts: 2, limits: TEST_LIMITS, ...options });
}

type Call = [string, SyscallArgs];

/** A request whose syscalls are recorded and answered by `answer`. */
function request(
  path: string,
  args: unknown,
  options: {
    calls?: Call[];
    answer?: (name: string, args: SyscallArgs) => unknown;
    deadlineMs?: number;
    pid?: string;
  } = {},
): ToolRunRequest {
  return {
    pid: options.pid ?? "p_1",
    tool: { path, hash: "" },
    args,
    deadlineMs: options.deadlineMs ?? 5000,
    syscall: (name, a) => {
      options.calls?.push([name, a]);
      return Promise.resolve().then(() => (options.answer ?? (() => null))(name, a));
    },
  };
}

/** Whether an OS process is gone (absent, or a zombie waiting to be reaped), asking `ps`. */
async function gone(osPid: number): Promise<boolean> {
  for (let i = 0; i < 40; i++) {
    const out = await new Deno.Command("ps", { args: ["-o", "stat=", "-p", String(osPid)] })
      .output();
    const stat = new TextDecoder().decode(out.stdout).trim();
    if (stat === "" || stat.startsWith("Z")) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

Deno.test("a tool's fs read through sys calls the syscall callback with the right name and args", async () => {
  await using runner = await create();
  const calls: Call[] = [];
  const result = await runner.run(
    request(builtin("count_lines.ts"), { path: "notes/a.txt" }, {
      calls,
      answer: () => "one\ntwo\nthree\n",
    }),
  );
  const source = await Deno.readTextFile(builtin("count_lines.ts"));
  assert.deepEqual(result, { ok: true, value: { lines: 3 }, syscalls: 1, hash: toolHash(source) });
  assert.deepEqual(calls, [["fs.readText", { path: "notes/a.txt" }]]);
});

Deno.test("every sys method reaches the kernel under its dotted name, with named arguments and raw bytes", async () => {
  await using runner = await create();
  const calls: Call[] = [];
  const lines: string[] = [];
  const req = request(fixture("all_syscalls.ts"), {}, {
    calls,
    answer: (name) => name === "fs.readBytes" ? new Uint8Array([7, 7]) : { served: name },
  });
  const result = await runner.run({ ...req, log: (line) => lines.push(line) });
  assert.equal(result.ok, true, JSON.stringify(result));
  assert.deepEqual(calls, [
    ["fs.readText", { path: "a.txt" }],
    ["fs.readBytes", { path: "b.bin" }],
    ["fs.write", { path: "c.bin", data: new Uint8Array([0, 1, 2, 255]) }],
    ["fs.list", { path: "." }],
    ["fs.stat", { path: "a.txt" }],
    ["fs.delete", { path: "a.txt" }],
    ["fs.mkdir", { path: "d" }],
    ["obj.create", { name: "n", type: "note", payload: { text: "hi" } }],
    ["obj.read", { ref: "n" }],
    ["obj.write", { ref: "n", payload: { text: "bye" } }],
    ["obj.list", {}],
    ["obj.link", { from: "n", rel: "cites", to: "m" }],
    ["obj.delete", { ref: "n" }],
    ["obj.fromFile", { path: "a.txt", name: "a", type: "text" }],
    ["obj.toFile", { ref: "a", path: "e.txt" }],
    ["human.ask", { question: "why?" }],
    ["human.notify", { message: "done" }],
    ["human.requestPermission", { resource: "fs:x/**", rights: ["read"], reason: "to read x" }],
    ["proc.spawn", { goal: "g" }],
    ["proc.fork", { goal: "f", objects: ["n"] }],
    ["proc.wait", { pid: "p_2" }],
    ["proc.signal", { pid: "p_2", signal: "pause" }],
    ["proc.exit", { result: { ok: true } }],
    ["proc.cwd", {}],
    ["proc.chdir", { path: "d" }],
    ["clock.now", {}],
    ["clock.sleep", { ms: 5 }],
    ["mbox.send", { to: "p_2", type: "note", body: { text: "hi" } }],
    ["mbox.receive", { timeoutMs: 0 }],
  ]);
  assert.ok(calls[2]![1]["data"] instanceof Uint8Array, "bytes arrive as a Uint8Array");
  if (result.ok) {
    const results = (result.value as { results: unknown[] }).results;
    assert.deepEqual(results[1], new Uint8Array([7, 7]));
    assert.equal(result.syscalls, 29);
  }
  assert.deepEqual(lines, ["made 29 syscalls"]);
});

Deno.test("a syscall error reaches the tool as data with its code, and a tool may fail with it", async () => {
  await using runner = await create();
  const result = await runner.run(
    request(builtin("count_lines.ts"), { path: "secret.txt" }, {
      answer: () => {
        throw libosError(
          "EPERM",
          "Cannot read 'secret.txt': process p_1 holds no fs read capability for it",
        );
      },
    }),
  );
  assert.deepEqual(result.ok ? null : result.error, {
    code: "EPERM",
    message: "Cannot read 'secret.txt': process p_1 holds no fs read capability for it",
  });
});

Deno.test("parse_log counts the ok and FAIL lines of a log object", async () => {
  await using runner = await create();
  const calls: Call[] = [];
  const result = await runner.run(
    request(builtin("parse_log.ts"), { ref: "ci/run-12" }, {
      calls,
      answer: () => ({
        oid: "o_1",
        type: "log",
        payload: { lines: ["test a ... ok", "test b ... FAIL", "", "summary", "test c ... ok"] },
      }),
    }),
  );
  assert.deepEqual(calls, [["obj.read", { ref: "ci/run-12" }]]);
  assert.deepEqual(result.ok && result.value, {
    ok: 2,
    fail: 1,
    other: 1,
    failures: ["test b ... FAIL"],
  });
});

Deno.test("input and output are checked against the tool's zod schemas inside the isolate", async () => {
  await using runner = await create();
  const badInput = await runner.run(request(builtin("count_lines.ts"), { path: 42 }));
  const badOutput = await runner.run(request(fixture("misbehave.ts"), { how: "bad_output" }));
  const thrown = await runner.run(request(fixture("misbehave.ts"), { how: "throw" }));
  const badArgs = await runner.run(request(builtin("count_lines.ts"), { path: "" }));
  assert.deepEqual(
    [badInput, badOutput, thrown, badArgs].map((r) => r.ok ? "ok" : r.error.code),
    ["EINVAL", "ETOOL", "ETOOL", "EINVAL"],
  );
  assert.match(
    !badInput.ok ? badInput.error.message : "",
    /Cannot call tool 'count_lines': path: /,
  );
  assert.match(!thrown.ok ? thrown.error.message : "", /something broke/);
});

Deno.test("a tool can neither fake an error code nor swallow EWAITING and carry on", async () => {
  await using runner = await create();
  const faked = await runner.run(request(fixture("misbehave.ts"), { how: "fake_code" }));
  assert.equal(!faked.ok && faked.error.code, "ETOOL");
  const calls: Call[] = [];
  const waited = await runner.run(
    request(fixture("misbehave.ts"), { how: "catch_waiting" }, {
      calls,
      answer: () => {
        throw libosError("EWAITING", "Cannot ask: waiting for human request h_1");
      },
    }),
  );
  assert.equal(!waited.ok && waited.error.code, "EWAITING");
  assert.deepEqual(calls.map(([name]) => name), ["human.ask"]);
});

Deno.test("a busy loop ends in ETIMEDOUT within the deadline + 1 s by killing its host, while the kernel's event loop stays responsive", async () => {
  const audit: SandboxAuditRecord[] = [];
  await using runner = await create({ audit: (r) => audit.push(r) });
  let worstLag = 0;
  let last = performance.now();
  const probe = setInterval(() => {
    const now = performance.now();
    worstLag = Math.max(worstLag, now - last - 5);
    last = now;
  }, 5);
  const started = performance.now();
  let result;
  try {
    result = await runner.run(request(fixture("busy_loop.ts"), {}, { deadlineMs: 800 }));
  } finally {
    clearInterval(probe);
  }
  const elapsed = performance.now() - started;
  assert.equal(!result.ok && result.error.code, "ETIMEDOUT");
  assert.ok(elapsed < 800 + 1000, `ended after ${elapsed.toFixed(0)} ms`);
  assert.ok(worstLag < 100, `the kernel's event loop lagged ${worstLag.toFixed(1)} ms`);
  const kill = audit.find((r) => r.action === "sandbox.kill");
  assert.equal(kill?.detail.code, "ETIMEDOUT");
  assert.ok(await gone(kill!.detail.host!), "the runaway host is dead");
  // The kernel carries on: the next call gets a fresh host.
  const next = await runner.run(
    request(builtin("count_lines.ts"), { path: "a" }, { answer: () => "x" }),
  );
  assert.equal(next.ok, true);
});

Deno.test("a memory bomb ends in ENOMEM, on the V8 heap or in array buffers", async () => {
  await using runner = await create();
  const heap = await runner.run(
    request(fixture("memory_bomb.ts"), { kind: "heap" }, { deadlineMs: 20_000 }),
  );
  const buffers = await runner.run(
    request(fixture("memory_bomb.ts"), { kind: "buffers" }, { deadlineMs: 20_000 }),
  );
  assert.deepEqual([heap, buffers].map((r) => !r.ok && r.error.code), ["ENOMEM", "ENOMEM"]);
  assert.equal(
    (await runner.run(request(builtin("count_lines.ts"), { path: "a" }, { answer: () => "" }))).ok,
    true,
  );
});

Deno.test("a syscall flood ends in ELIMIT, one at a time or all at once", async () => {
  await using runner = await create();
  const calls: Call[] = [];
  const serial = await runner.run(
    request(fixture("syscall_flood.ts"), { parallel: false }, { calls }),
  );
  // Syscalls that are never answered pile up in flight.
  const parallel = await runner.run(
    request(fixture("syscall_flood.ts"), { parallel: true }, {
      answer: () => new Promise(() => {}),
    }),
  );
  assert.deepEqual([serial, parallel].map((r) => !r.ok && r.error.code), ["ELIMIT", "ELIMIT"]);
  assert.match(!serial.ok ? serial.error.message : "", /more than 300 syscalls/);
  assert.match(!parallel.ok ? parallel.error.message : "", /more than 32 syscalls at once/);
  assert.equal(calls.length, 300, "the syscall past the budget never reached the kernel");
});

Deno.test("a huge message ends in ELIMIT: past the output limit the call fails, past the frame limit the host dies", async () => {
  const audit: SandboxAuditRecord[] = [];
  await using runner = await create({ audit: (r) => audit.push(r) });
  const large = await runner.run(request(fixture("huge_output.ts"), { bytes: 100_000 }));
  const huge = await runner.run(request(fixture("huge_output.ts"), { bytes: 2_000_000 }));
  assert.deepEqual([large, huge].map((r) => !r.ok && r.error.code), ["ELIMIT", "ELIMIT"]);
  assert.match(!large.ok ? large.error.message : "", /output exceeds the 65536-byte limit/);
  assert.deepEqual(audit.map((r) => [r.action, r.detail.code]), [
    ["sandbox.limit", "ELIMIT"],
    ["sandbox.refuse", "ELIMIT"],
    ["sandbox.kill", "ELIMIT"],
  ]);
});

Deno.test("a tool's forged syscall messages are refused and audited, and end its host", async () => {
  const audit: SandboxAuditRecord[] = [];
  await using runner = await create({ audit: (r) => audit.push(r) });
  const outcomes: Record<string, string> = {};
  for (const how of ["repeat", "proto", "other_call"]) {
    const calls: Call[] = [];
    const before = audit.length;
    const result = await runner.run(
      request(fixture("forge.ts"), { how }, { calls, answer: () => ({ now: 1, iso: "" }) }),
    );
    const refusal = audit.slice(before).find((r) => r.action === "sandbox.refuse");
    outcomes[how] = `${result.ok ? "ok" : result.error.code} after ${calls.length}: ${
      refusal?.detail.reason.replace(/sha256:[0-9a-f]+/, "<hash>").replace(/\bcall \d+/g, "call N")
    }`;
  }
  assert.deepEqual(outcomes, {
    repeat: "EINVAL after 1: syscall 1 of call N repeats a sequence number (expected 2)",
    proto:
      "EINVAL after 1: the host reported: Cannot accept a message from tool <hash>: worker 'syscall' message.args has a '__proto__' key",
    other_call: "EINVAL after 1: the host reported: Cannot relay a 'syscall' of call N: not active",
  });
});

Deno.test("JIT source runs by its content hash; a source that does not match its hash is refused", async () => {
  await using runner = await create();
  const source = `import { defineTool, z } from "libos/tool";
export default defineTool({
  name: "double", description: "Doubles a number",
  input: z.object({ n: z.number() }), output: z.object({ n: z.number() }),
  run: ({ n }) => Promise.resolve({ n: n * 2 }),
});`;
  const hash = toolHash(source);
  const base = request("", { n: 21 });
  const ran = await runner.run({ ...base, tool: { source, hash } });
  assert.deepEqual(ran, { ok: true, value: { n: 42 }, syscalls: 0, hash });
  const forged = await runner.run({
    ...base,
    tool: { source: source.replace("* 2", "* 3"), hash },
  });
  assert.equal(!forged.ok && forged.error.code, "EINVAL");
});

Deno.test("a changed tool file is used by the next call, and the result names the hash that ran", async () => {
  await using runner = await create();
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/answer.ts`;
    const version = (n: number) =>
      `import { defineTool, z } from "libos/tool";
export default defineTool({ name: "answer", description: "Answers", input: z.object({}),
  output: z.object({ n: z.number() }), run: () => Promise.resolve({ n: ${n} }) });`;
    await Deno.writeTextFile(file, version(1));
    const first = await runner.run(request(file, {}));
    await Deno.writeTextFile(file, version(2));
    const second = await runner.run(request(file, {}));
    assert.deepEqual(first, { ok: true, value: { n: 1 }, syscalls: 0, hash: toolHash(version(1)) });
    assert.deepEqual(second, {
      ok: true,
      value: { n: 2 },
      syscalls: 0,
      hash: toolHash(version(2)),
    });
    const missing = await runner.run(request(`${dir}/gone.ts`, {}));
    assert.equal(!missing.ok && missing.error.code, "ENOENT");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("describe learns a tool's name and JSON Schemas inside an isolate", async () => {
  await using runner = await create();
  const d = await runner.describe(builtin("count_lines.ts"));
  assert.equal(d.name, "count_lines");
  assert.equal(d.description, "Count lines in a text file of the working directory");
  assert.deepEqual(d.inputSchema["required"], ["path"]);
  assert.deepEqual((d.outputSchema["properties"] as Record<string, unknown>)["lines"], {
    type: "integer",
    minimum: 0,
    maximum: Number.MAX_SAFE_INTEGER,
  });
  // A file that is not a self-contained tool (here: one with a relative import) is refused
  // by the static check, with the line and column, before any isolate loads it.
  await assert.rejects(
    runner.describe(fixture("fake_host.ts")),
    (e: unknown) =>
      e instanceof Error && (e as { code?: string }).code === "EINVAL" &&
      /fake_host\.ts': line \d+, column \d+: Cannot import '\.\.\/frame\.ts': a tool may import only 'libos\/tool' and 'zod'/
        .test(e.message),
    "refused by the static check",
  );
  // Without the static check, the isolate refuses it too.
  await using unchecked = await create({ staticCheck: false });
  await assert.rejects(
    unchecked.describe(fixture("fake_host.ts")),
    (e: unknown) =>
      e instanceof Error && (e as { code?: string }).code === "EINVAL" &&
      /Cannot load tool: TypeError: Import "\.\.\/frame\.ts" not a dependency/.test(e.message) &&
      e.message.length < 500,
  );
});

for (const mode of HAS_BWRAP ? ["auto", "off"] as const : ["off"] as const) {
  Deno.test(`tool code cannot read files, reach the network or the environment, nor other workers (bubblewrap: ${mode})`, async () => {
    // The probe uses import() and Deno directly: the static check would refuse it at once.
    const audit: SandboxAuditRecord[] = [];
    await using runner = await create({
      bubblewrap: mode,
      staticCheck: false,
      audit: (r) => audit.push(r),
    });
    const secret = await Deno.makeTempFile({ suffix: ".json" });
    try {
      await Deno.writeTextFile(secret, '{"token": "s3cret"}');
      const result = await runner.run(request(fixture("probe.ts"), { file: secret }));
      assert.equal(result.ok, true, JSON.stringify(result));
      assert.deepEqual(result.ok && result.value, {
        importText: "refused: TypeError",
        importJson: "refused: TypeError",
        importModule: "refused: TypeError",
        importRemote: "refused: TypeError",
        // Only zod is in a host's module cache: bubblewrap binds only it, and without
        // bubblewrap each host has a private DENO_DIR holding only it.
        importNpm: "refused: TypeError",
        readFile: "refused: NotCapable",
        env: "refused: NotCapable",
        fetch: "refused: NotCapable",
        run: "refused: NotCapable",
        eval: "refused: EvalError",
        newFunction: "refused: EvalError",
        broadcastChannel: "undefined",
        caches: "undefined",
        worker: "undefined",
        exit: "refused: Error",
      });
      // Each attempt the isolate blocked (all but the imports, which Deno refuses inside its
      // module loader) left exactly one denial for the kernel to audit.
      assert.deepEqual(
        audit.map((r) => `${r.action} ${r.decision} ${r.resource} ${r.detail.api}`),
        [
          "sandbox.deny deny isolate:read Deno.readTextFile",
          "sandbox.deny deny isolate:env Deno.env.get",
          "sandbox.deny deny isolate:net fetch",
          "sandbox.deny deny isolate:run Deno.Command.prototype.output",
          "sandbox.deny deny isolate:code eval",
          "sandbox.deny deny isolate:code Function",
          "sandbox.deny deny isolate:global BroadcastChannel",
          "sandbox.deny deny isolate:global caches",
          "sandbox.deny deny isolate:global Worker",
          "sandbox.deny deny isolate:global Deno.exit",
        ],
      );
    } finally {
      await Deno.remove(secret);
    }
  });
}

Deno.test("each attempt the isolate blocks is reported once; past the per-call limit the host is killed", async () => {
  const audit: SandboxAuditRecord[] = [];
  await using runner = await create({
    limits: { ...TEST_LIMITS, deniedPerCall: 5 },
    audit: (r) => audit.push(r),
  });
  const few = await runner.run(request(fixture("denial_flood.ts"), { count: 3 }));
  assert.deepEqual(few.ok && few.value, { refused: 3 });
  assert.deepEqual(
    audit.map((r) => `${r.action} ${r.resource} ${r.detail.api}`),
    Array(3).fill("sandbox.deny isolate:read Deno.readTextFileSync"),
  );
  audit.length = 0;
  const flood = await runner.run(request(fixture("denial_flood.ts"), { count: 1000 }));
  assert.equal(!flood.ok && flood.error.code, "ELIMIT");
  assert.match(!flood.ok ? flood.error.message : "", /blocked more than 5 of its attempts/);
  assert.deepEqual(audit.map((r) => r.action), [
    ...Array(5).fill("sandbox.deny"),
    "sandbox.kill",
  ]);
});

Deno.test("a timer left spinning after its call ends gets its host killed between calls (ETIMEDOUT); the next call runs on a fresh host", async () => {
  const killed = Promise.withResolvers<SandboxAuditRecord>();
  await using runner = await create({
    limits: { ...TEST_LIMITS, idleAnswerMs: 300 },
    audit: (r) => {
      if (r.action === "sandbox.kill") killed.resolve(r);
    },
  });
  const armed = await runner.run(request(fixture("spin_after.ts"), { spin: true }));
  assert.deepEqual(armed.ok && armed.value, { armed: true });
  // No call runs now: the host notices the worker no longer answers, and the kernel kills it.
  const timeout = setTimeout(
    () => killed.reject(new Error("the spinning host was not killed")),
    15_000,
  );
  const record = await killed.promise.finally(() => clearTimeout(timeout));
  assert.equal(record.pid, "p_1");
  assert.equal(record.detail.code, "ETIMEDOUT");
  assert.match(
    record.detail.reason,
    /kept running after its call had ended \(no answer in 300 ms\)/,
  );
  const next = await runner.run(request(fixture("spin_after.ts"), { spin: false }));
  assert.deepEqual(next.ok && next.value, { armed: false });
});
