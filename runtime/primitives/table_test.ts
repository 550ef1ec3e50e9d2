import assert from "node:assert/strict";
import { PRIMITIVES, SYSCALL_OF_TOOL, type SysName } from "./table.ts";
import { primitiveTool, primitiveToolNames } from "../engine/primitive_tools.ts";
import { syscallNames } from "../engine/syscall_table.ts";
import { Kernel } from "../kernel.ts";
import { MemoryFilesystem } from "../substrate/memory_fs.ts";

Deno.test("one name table: every primitive tool, every sandbox syscall and their audit actions come from it", async () => {
  const sysNames = Object.keys(PRIMITIVES) as SysName[];
  // Tools: exactly the table's tool column, each making its row's syscall.
  assert.deepEqual(
    primitiveToolNames().sort(),
    sysNames.map((s) => PRIMITIVES[s].tool).filter((t): t is string => t !== null).sort(),
  );
  for (const name of primitiveToolNames()) {
    assert.equal(primitiveTool(name)?.sys, SYSCALL_OF_TOOL.get(name));
  }
  // The sandbox's syscalls are rows of the table.
  for (const s of syscallNames()) assert.ok(s in PRIMITIVES, `${s} is not in the name table`);
  // A decision is audited under its row's action.
  await using kernel = await Kernel.create({ filesystem: new MemoryFilesystem() });
  const p = await kernel.spawn({
    image: {
      id: "t",
      name: "t",
      version: "1",
      model: {
        provider: "scripted",
        steps: [
          { tool: "write_text_file", args: { path: "a.txt", text: "x" } },
          { tool: "read_text_file", args: { path: "a.txt" } },
          { tool: "exit", args: { result: null } },
        ],
      },
      tools: ["*"],
      capabilities: [{ resource: "fs:**", rights: ["read", "write"] }],
    },
    goal: "g",
  });
  await kernel.wait(p.pid, { until: "terminal" });
  const actions = (await kernel.audit({ pid: p.pid })).filter((a) => a.decision === "allow")
    .map((a) => a.action);
  assert.deepEqual(actions, [PRIMITIVES["fs.write"].audit, PRIMITIVES["fs.readText"].audit]);
});
