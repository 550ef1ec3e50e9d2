/**
 * Tools outside the kernel (the sandbox's seam): their syscalls go through
 * the same primitives, a call that must wait runs again from its start with
 * its completed syscalls answered from the journal.
 */
import assert from "node:assert/strict";
import type { HostedTool, HostedToolResult, HostedToolRun, ToolHost } from "../mod.ts";
import { bootKernel, call, fileText, scripted, toolResults } from "./helpers.ts";

/** A host whose "tools" are functions run in-process (the real one is sandbox/). */
class FakeHost implements ToolHost {
  runs = 0;
  constructor(
    readonly tools: Record<
      string,
      (args: Record<string, unknown>, run: HostedToolRun) => Promise<unknown>
    >,
  ) {}
  tool(name: string): HostedTool | undefined {
    if (!(name in this.tools)) return undefined;
    return {
      name,
      description: `fake ${name}`,
      inputSchema: { type: "object" },
      path: `tools/${name}.ts`,
      hash: "sha256:fake",
    };
  }
  names(): string[] {
    return Object.keys(this.tools);
  }
  async run(run: HostedToolRun): Promise<HostedToolResult> {
    this.runs++;
    try {
      const path = "path" in run.tool ? run.tool.path : "";
      const value = await this.tools[path.slice(6, -3)]!(
        run.args as Record<string, unknown>,
        run,
      );
      return { ok: true, value, hash: run.tool.hash };
    } catch (error) {
      const e = error as { code?: string; message: string };
      return {
        ok: false,
        error: { code: (e.code ?? "ETOOL") as "ETOOL", message: e.message },
        hash: run.tool.hash,
      };
    }
  }
}

const copyUpper = async (args: Record<string, unknown>, run: HostedToolRun) => {
  const text = await run.syscall("fs.readText", { path: args["from"] }) as string;
  await run.syscall("fs.write", { path: args["to"], data: text.toUpperCase() });
  return { bytes: text.length };
};

Deno.test("a hosted tool's syscalls are checked, journaled and audited like primitive tools", async () => {
  const host = new FakeHost({ copy_upper: copyUpper });
  await using t = await bootKernel({ toolHost: host, files: { "in.txt": "hello" } });
  const p = await t.kernel.spawn({
    image: scripted([
      call("copy_upper", { from: "in.txt", to: "out.txt" }),
      call("copy_upper", { from: "in.txt", to: "secret.txt" }),
      call("exit", { result: null }),
    ], {
      tools: ["copy_*", "exit"],
      capabilities: [{ resource: "fs:in.txt", rights: ["read"] }, {
        resource: "fs:out.txt",
        rights: ["write"],
      }],
    }),
    goal: "copy",
  });
  const done = await t.kernel.wait(p.pid, { until: "terminal" });
  assert.deepEqual(done.tools, ["copy_upper", "exit"], "`*` patterns expand over hosted tools");
  const [ok, denied] = await toolResults(t.kernel, p.pid);
  assert.deepEqual(ok!.result, { ok: true, value: { bytes: 5 } });
  assert.equal(!denied!.result.ok && denied!.result.error.code, "EPERM");
  assert.equal(await fileText(t.fs, "out.txt"), "HELLO");
  assert.equal(await fileText(t.fs, "secret.txt"), null);
  const starts = (await t.kernel.journal(p.pid)).filter((e) => e.kind === "tool.start");
  assert.deepEqual(
    starts.map((e) => e.data["hash"]),
    ["sha256:fake", "sha256:fake"],
    "the journal records which content ran",
  );
});

Deno.test("a hosted tool that must wait runs again from its start; completed syscalls answer from the journal", async () => {
  const host = new FakeHost({ copy_upper: copyUpper });
  await using t = await bootKernel({ toolHost: host, files: { "in.txt": "deploy me" } });
  const p = await t.kernel.spawn({
    image: scripted([
      call("copy_upper", { from: "in.txt", to: "deploy/x.txt" }),
      call("exit", { result: "done" }),
    ], {
      tools: ["copy_upper", "exit"],
      capabilities: [{ resource: "fs:in.txt", rights: ["read"] }, {
        resource: "fs:deploy/**",
        rights: ["write"],
        effect: "ask",
      }],
    }),
    goal: "deploy",
  });
  assert.equal((await t.kernel.wait(p.pid)).state, "waiting");
  const [r] = t.kernel.humanRequests({ state: "pending" });
  await t.kernel.answer(r!.id, { decision: "approve" });
  const done = await t.kernel.wait(p.pid, { until: "terminal" });
  assert.equal(done.result, "done");
  assert.equal(host.runs, 2, "the tool ran again from its start");
  assert.equal(
    (await t.kernel.audit({ pid: p.pid, action: "fs.read" })).length,
    1,
    "the read was not performed twice",
  );
  assert.equal(await fileText(t.fs, "deploy/x.txt"), "DEPLOY ME");
});

Deno.test("a syscall that is not in the table is refused", async () => {
  const host = new FakeHost({ bad: (_a, run) => run.syscall("fs.format", {}) });
  await using t = await bootKernel({ toolHost: host });
  const p = await t.kernel.spawn({
    image: scripted([call("bad", {}), call("exit", { result: null })], { tools: ["bad", "exit"] }),
    goal: "g",
  });
  await t.kernel.wait(p.pid, { until: "terminal" });
  const [bad] = await toolResults(t.kernel, p.pid);
  assert.equal(!bad!.result.ok && bad!.result.error.code, "EINVAL");
});
