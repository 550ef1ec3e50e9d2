import assert from "node:assert/strict";
import { join } from "node:path";
import { BUILTIN_TOOL_FILES, builtinToolsDir } from "../tools/mod.ts";
import { ToolFolder } from "./tool_folder.ts";
import { IsolateToolRunner, toolHash } from "./tool_runner.ts";

function tool(name: string, extra = ""): string {
  return `import { defineTool, z } from "libos/tool";
${extra}
export default defineTool({
  name: "${name}", description: "The ${name} tool",
  input: z.object({}), output: z.object({ v: z.string() }),
  run: () => Promise.resolve({ v: "${name}" }),
});
`;
}

async function withDir(files: Record<string, string>, body: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(join(dir, name), text);
    }
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("scanning the built-in folder learns each tool's name and schemas in an isolate", async () => {
  await using runner = await IsolateToolRunner.create({ warm: 1, maxHosts: 1 });
  const folder = new ToolFolder(runner, [builtinToolsDir]);
  const scan = await folder.scan();
  assert.deepEqual(scan.broken, []);
  assert.deepEqual(scan.tools.map((t) => t.name), ["count_lines", "parse_log"]);
  assert.deepEqual(scan.tools.map((t) => t.path.slice(builtinToolsDir.length + 1)), [
    ...BUILTIN_TOOL_FILES,
  ]);
  for (const t of scan.tools) {
    assert.equal(t.hash, toolHash(await Deno.readTextFile(t.path)));
    assert.equal(t.description.inputSchema["type"], "object");
  }
  assert.equal(folder.get("parse_log")?.description.name, "parse_log");
});

Deno.test("a broken tool file is reported with its file and reason and skipped; the others load", async () => {
  await using runner = await IsolateToolRunner.create({ warm: 1, maxHosts: 1 });
  await withDir({
    "a_good.ts": tool("good"),
    "b_syntax.ts": "export default defineTool({ name: ",
    "c_no_default.ts": "export const x = 1;",
    "d_bad_name.ts": tool("Bad Name"),
    "e_duplicate.ts": tool("good"),
    "f_throws.ts": tool("throws", 'throw new Error("boom at load");'),
    "mod.ts": "export {};",
    "g_test.ts": "this is not a tool",
    "notes.txt": "not a tool either",
  }, async (dir) => {
    const folder = new ToolFolder(runner, [dir]);
    const scan = await folder.scan();
    assert.deepEqual(scan.tools.map((t) => t.name), ["good"]);
    const reasons = Object.fromEntries(
      scan.broken.map((b) => [b.file.slice(dir.length + 1), b.reason]),
    );
    assert.deepEqual(Object.keys(reasons), [
      "b_syntax.ts",
      "c_no_default.ts",
      "d_bad_name.ts",
      "e_duplicate.ts",
      "f_throws.ts",
    ]);
    // The static check refuses what cannot be a tool before an isolate loads it.
    assert.match(reasons["b_syntax.ts"]!, /b_syntax\.ts': .*line 1, column \d+: Cannot parse: /);
    assert.match(
      reasons["c_no_default.ts"]!,
      /: Cannot find the tool: the module has no default export/,
    );
    assert.match(reasons["d_bad_name.ts"]!, /the name must match/);
    assert.match(reasons["e_duplicate.ts"]!, /name is taken by .*a_good\.ts/);
    assert.match(reasons["f_throws.ts"]!, /boom at load/);
  });
});

Deno.test("a changed file is described again on the next scan; unchanged files are not", async () => {
  await using runner = await IsolateToolRunner.create({ warm: 1, maxHosts: 1 });
  await withDir({ "one.ts": tool("one"), "two.ts": tool("two") }, async (dir) => {
    const folder = new ToolFolder(runner, [dir]);
    const first = await folder.scan();
    assert.equal(first.described.length, 2);
    await Deno.writeTextFile(join(dir, "two.ts"), tool("two_renamed"));
    await Deno.remove(join(dir, "one.ts"));
    const second = await folder.scan();
    assert.deepEqual(second.described, [join(dir, "two.ts")]);
    assert.deepEqual(second.tools.map((t) => t.name), ["two_renamed"]);
    assert.equal(folder.get("one"), undefined);
    assert.equal(folder.get("two_renamed")?.hash, toolHash(tool("two_renamed")));
  });
});
