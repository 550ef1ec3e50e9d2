import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { type JitProposal, type JitTest, proposeTool } from "./jit.ts";
import { IsolateToolRunner, toolHash } from "./tool_runner.ts";

const fixture = (name: string) =>
  Deno.readTextFile(fileURLToPath(new URL(`./testdata/jit/${name}`, import.meta.url)));

function create(): Promise<IsolateToolRunner> {
  return IsolateToolRunner.create({
    warm: 1,
    maxHosts: 2,
    limits: { heapMb: 96, hostMemoryBytes: 384 << 20 },
  });
}

/** The sha-256 of the source's UTF-8, computed without the sandbox's helper. */
async function sha256(source: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(source));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function failure(proposal: JitProposal): { stage: string; report: string } {
  assert.equal(proposal.ok, false, JSON.stringify(proposal));
  return proposal.ok
    ? { stage: "", report: "" }
    : { stage: proposal.stage, report: proposal.report };
}

const counts: JitTest = {
  name: "counts the words",
  input: { path: "a.txt" },
  sys: { "fs.readText": "one two\nthree\n" },
  expect: { words: 3 },
};

Deno.test("a good tool whose tests pass is accepted under the sha-256 of its source", async () => {
  await using runner = await create();
  const source = await fixture("word_count.ts");
  const proposal = await proposeTool(runner, {
    source,
    tests: [counts, { name: "empty file", input: { path: "b.txt" }, sys: { "fs.readText": "" } }],
  });
  assert.equal(proposal.ok, true, JSON.stringify(proposal));
  if (!proposal.ok) return;
  assert.equal(proposal.candidate, `sha256:${await sha256(source)}`);
  assert.equal(proposal.candidate, toolHash(source));
  assert.equal(proposal.name, "word_count");
  assert.equal(proposal.description.hash, proposal.candidate);
  assert.deepEqual(proposal.description.inputSchema.required, ["path"]);
  assert.deepEqual(proposal.tests, [
    { name: "counts the words", ok: true, output: { words: 3 } },
    { name: "empty file", ok: true, output: { words: 0 } },
  ]);
});

Deno.test("a refused construct stops the proposal at the static gate, with its line and column", async () => {
  const source = await fixture("refused.txt");
  // The runner is never reached: the static gate comes first.
  const proposal = await proposeTool(_unreachable(), { source });
  const { stage, report } = failure(proposal);
  assert.equal(stage, "static");
  assert.equal(proposal.candidate, `sha256:${await sha256(source)}`);
  assert.match(report, /^The static check refused the tool \(26 problems\):\n/);
  assert.match(report, /^tool\.ts:3:30 Cannot import 'node:fs'/m);
  assert.match(report, /^tool\.ts:7:20 Cannot use import\(\)/m);
});

Deno.test("a type error stops the proposal at the typecheck gate, with line:column", async () => {
  const proposal = await proposeTool(_unreachable(), { source: await fixture("type_error.txt") });
  assert.deepEqual(failure(proposal), {
    stage: "typecheck",
    report: "The type-check failed:\n" +
      "tool.ts:9:11 - error TS2322: Type 'string' is not assignable to type 'number'.",
  });
});

Deno.test("a tool that does not load in the isolate stops at the describe gate", async () => {
  await using runner = await create();
  const { stage, report } = failure(
    await proposeTool(runner, { source: await fixture("bad_name.ts") }),
  );
  assert.equal(stage, "describe");
  assert.match(
    report,
    /^Loading the tool in an isolate failed: EINVAL: .*Not A Name.*the name must match/,
  );
});

Deno.test("a failing test puts the expected and actual output, syscalls and log in the report", async () => {
  await using runner = await create();
  const proposal = await proposeTool(runner, {
    source: await fixture("word_count.ts"),
    tests: [counts, { ...counts, name: "miscounts", expect: { words: 4 } }],
  });
  assert.deepEqual(failure(proposal), {
    stage: "tests",
    report: [
      "1 of 2 tests failed:",
      "✓ counts the words",
      '✗ miscounts: expected output {"words":4}',
      '  got output      {"words":3}',
      "  syscalls (1):",
      '    fs.readText {"path":"a.txt"} → "one two\\nthree\\n"',
      "  log:",
      "    read 14 characters from a.txt",
    ].join("\n"),
  });
});

Deno.test("a syscall missing from the test's mock fails with EPERM; a canned error fails with its code", async () => {
  await using runner = await create();
  const source = await fixture("word_count.ts");
  const unlisted = { name: "no mock", input: { path: "a.txt" } };
  const refused = failure(await proposeTool(runner, { source, tests: [unlisted] }));
  assert.equal(refused.stage, "tests");
  assert.match(
    refused.report,
    /✗ no mock: failed with EPERM: Cannot run fs\.readText in test 'no mock': its mock sys does not list 'fs\.readText'/,
  );
  // Tests may expect those failures, and then they pass.
  const accepted = await proposeTool(runner, {
    source,
    tests: [
      { ...unlisted, expectError: "EPERM" },
      {
        name: "missing file",
        input: { path: "gone.txt" },
        sys: { "fs.readText": { error: { code: "ENOENT", message: "Cannot read 'gone.txt'" } } },
        expectError: "ENOENT",
      },
    ],
  });
  assert.equal(accepted.ok, true, JSON.stringify(accepted));
  assert.deepEqual(
    accepted.ok ? accepted.tests.map((t) => [t.name, t.ok, t.error?.code]) : [],
    [["no mock", true, "EPERM"], ["missing file", true, "ENOENT"]],
  );
});

Deno.test("a test that busy-loops ends with ETIMEDOUT at its deadline, and the sandbox carries on", async () => {
  await using runner = await create();
  const started = performance.now();
  const proposal = await proposeTool(
    runner,
    { source: await fixture("spin.ts"), tests: [{ name: "spins", input: {} }] },
    { testDeadlineMs: 300 },
  );
  const { stage, report } = failure(proposal);
  assert.equal(stage, "tests");
  assert.match(report, /✗ spins: failed with ETIMEDOUT: .*300 ms deadline/);
  assert.ok(performance.now() - started < 8000);
  const after = await proposeTool(runner, {
    source: await fixture("word_count.ts"),
    tests: [counts],
  });
  assert.equal(after.ok, true, JSON.stringify(after));
});

Deno.test("a report is cut to 8 KiB, and an oversized source stops at the static gate", async () => {
  await using runner = await create();
  const huge = { words: "ü".repeat(2000) };
  const tests = Array.from({ length: 20 }, (_, i) => ({ ...counts, name: `t${i}`, expect: huge }));
  const { stage, report } = failure(
    await proposeTool(runner, { source: await fixture("word_count.ts"), tests }),
  );
  assert.equal(stage, "tests");
  assert.ok(new TextEncoder().encode(report).length <= 8192);
  assert.match(report, /^20 of 20 tests failed:\n✗ t0: expected output/);
  assert.match(report, /\n… \(report cut\)$/);
  const big = failure(
    await proposeTool(_unreachable(), { source: "x".repeat(100) }, { maxSourceBytes: 64 }),
  );
  assert.deepEqual(big, {
    stage: "static",
    report: "The source is 100 bytes, over the 64-byte limit of a JIT tool.",
  });
});

Deno.test("a malformed proposal is refused with EINVAL before any gate", async () => {
  const runner = _unreachable();
  await assert.rejects(
    proposeTool(runner, { source: "x", tests: [{ name: "t", input: {}, sys: { "fs.read": "" } }] }),
    { code: "EINVAL", message: /tests\.0\.sys\.fs\.read: 'fs\.read' is not a syscall/ },
  );
  await assert.rejects(
    proposeTool(runner, {
      source: "x",
      tests: [{ name: "t", input: {}, expect: 1, expectError: "EPERM" }],
    }),
    { code: "EINVAL", message: /an output or an error, not both/ },
  );
});

/** A runner that fails the test if a proposal reaches it. */
function _unreachable() {
  const fail = (): never => {
    throw new Error("the proposal reached the sandbox");
  };
  return { run: fail, describeCode: fail };
}
