/**
 * JIT tools end to end: an agent proposes a tool, the sandbox checks and
 * tests it, the agent registers it (with the `tool` right) and calls it.
 */
import assert from "node:assert/strict";
import { SandboxTools } from "../sandbox/mod.ts";
import { bootKernel, call, outcome, scripted, toolResults } from "./helpers.ts";

const SHOUT = `import { defineTool, z } from "libos/tool";
export default defineTool({
  name: "shout",
  description: "Read a file and return it in capitals",
  input: z.object({ path: z.string() }),
  output: z.object({ text: z.string() }),
  async run({ path }, sys) {
    return { text: (await sys.fs.readText(path)).toUpperCase() };
  },
});
`;

const tests = [{
  name: "capitals",
  input: { path: "a.txt" },
  expect: { text: "HI" },
  sys: { "fs.readText": "hi" },
}];

Deno.test("propose → register → call: a JIT tool runs in the sandbox under the process's capabilities", async () => {
  await using tools = await SandboxTools.create();
  await using t = await bootKernel({ toolHost: tools, files: { "note.txt": "quiet please" } });
  const p = await t.kernel.spawn({
    image: scripted([
      call("propose_tool", { source: "export default 1;" }),
      call("propose_tool", { source: SHOUT, tests }),
      call("register_tool", { candidate: { $ref: "steps[1].result.value.candidate" } }),
      call("shout", { path: "note.txt" }),
      call("exit", { result: { $ref: "steps[3].result.value.text" } }),
    ], {
      tools: ["propose_tool", "register_tool", "exit"],
      capabilities: [{ resource: "tool", rights: ["register"] }, {
        resource: "fs:note.txt",
        rights: ["read"],
      }],
    }),
    goal: "write a tool",
  });
  const done = await t.kernel.wait(p.pid, { until: "terminal" });
  assert.equal(done.state, "exited", done.reason ?? "");
  assert.equal(done.result, "QUIET PLEASE");
  const [refused, accepted, registered] = await toolResults(t.kernel, p.pid);
  const r0 =
    (refused!.result as { value: { accepted: boolean; stage: string; report: string } }).value;
  assert.equal(r0.accepted, false);
  assert.equal(r0.stage, "static");
  assert.ok(r0.report.length > 0, "the check's output comes back to the model");
  assert.equal((accepted!.result as { value: { accepted: boolean } }).value.accepted, true);
  assert.equal(outcome(registered), "ok");
  assert.ok(done.tools.includes("shout"));
  const jit = done.jitTools.find((x) => x.name === "shout")!;
  assert.deepEqual(
    [jit.proposedBy, jit.step, jit.registered],
    [p.pid, 2, true],
    "lineage: who wrote it, in which step",
  );
});

Deno.test("register_tool needs the tool register right, and a registered tool is only in its own table", async () => {
  await using tools = await SandboxTools.create();
  await using t = await bootKernel({ toolHost: tools });
  const noRight = await t.kernel.spawn({
    image: scripted([
      call("propose_tool", { source: SHOUT, tests }),
      call("register_tool", { candidate: { $ref: "steps[0].result.value.candidate" } }),
      call("exit", { result: null }),
    ], { tools: ["propose_tool", "register_tool", "exit"] }),
    goal: "g",
  });
  await t.kernel.wait(noRight.pid, { until: "terminal" });
  const [, reg] = await toolResults(t.kernel, noRight.pid);
  assert.equal(outcome(reg), "EPERM");
  assert.ok(!t.kernel.get(noRight.pid).tools.includes("shout"));
  const other = await t.kernel.spawn({
    image: scripted([call("shout", { path: "x" }), call("exit", { result: null })], {
      tools: ["*"],
    }),
    goal: "g",
  });
  await t.kernel.wait(other.pid, { until: "terminal" });
  const [call0] = await toolResults(t.kernel, other.pid);
  assert.equal(outcome(call0), "ENOENT", "another process does not see it");
});

/** The red team's JIT tool (issue 19, item 6): an alias of the global object, hidden from the type-check. */
const GLOBAL_ALIAS = `import { defineTool, z } from "libos/tool";

export default defineTool({
  name: "jit_global_alias",
  description: "Reads the host's pid and Deno's path through an alias of the global object",
  input: z.object({}),
  output: z.object({ pid: z.number(), execPath: z.string() }),
  run() {
    // @ts-ignore
    const g: any = global;
    return Promise.resolve({ pid: g["De" + "no"].pid, execPath: g["De" + "no"].execPath() });
  },
});
`;

Deno.test("propose_tool refuses an alias of the global object at the static check, naming the line and column of the @ts-ignore, the alias and each computed 'Deno'", async () => {
  await using tools = await SandboxTools.create();
  await using t = await bootKernel({ toolHost: tools });
  const p = await t.kernel.spawn({
    image: scripted([
      call("propose_tool", { source: GLOBAL_ALIAS, tests: [{ name: "runs", input: {} }] }),
      call("register_tool", { candidate: { $ref: "steps[0].result.value.candidate" } }),
      call("jit_global_alias", {}),
      call("exit", { result: null }),
    ], {
      tools: ["propose_tool", "register_tool", "exit"],
      capabilities: [{ resource: "tool", rights: ["register"] }],
    }),
    goal: "learn the host's pid",
  });
  const done = await t.kernel.wait(p.pid, { until: "terminal" });
  assert.equal(done.state, "exited", done.reason ?? "");
  const [proposed, registered, called] = await toolResults(t.kernel, p.pid);
  assert.deepEqual((proposed!.result as { value: unknown }).value, {
    accepted: false,
    candidate: (proposed!.result as { value: { candidate: string } }).value.candidate,
    stage: "static",
    report: [
      "The static check refused the tool (4 problems):",
      "tool.ts:9:8 Cannot use a '@ts-ignore' comment in a tool: the type-check must see all of it",
      "tool.ts:10:20 Cannot use 'global': a tool may not reach the global object",
      "tool.ts:11:37 Cannot use the property 'Deno': a tool reaches the world only through sys",
      "tool.ts:11:67 Cannot use the property 'Deno': a tool reaches the world only through sys",
    ].join("\n"),
  });
  assert.notEqual(outcome(registered), "ok", "a refused candidate cannot be registered");
  assert.equal(outcome(called), "ENOENT", "the tool never reaches the process's table");
  assert.ok(!done.tools.includes("jit_global_alias"));
  const text = JSON.stringify(await t.kernel.journal(p.pid));
  assert.ok(!text.includes(Deno.execPath()), "Deno's path on the host is in no journal entry");
});
