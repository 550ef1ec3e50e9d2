import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { typecheck } from "./jit_typecheck.ts";

const fixture = (name: string) =>
  Deno.readTextFile(fileURLToPath(new URL(`./testdata/jit/${name}`, import.meta.url)));

Deno.test("a tool that uses the SDK and sys correctly type-checks", async () => {
  assert.deepEqual(await typecheck(await fixture("word_count.ts")), { ok: true });
});

Deno.test("a type error is reported with the tool's line and column", async () => {
  assert.deepEqual(await typecheck(await fixture("type_error.txt")), {
    ok: false,
    diagnostics: "tool.ts:9:11 - error TS2322: Type 'string' is not assignable to type 'number'.",
  });
});

Deno.test("the tool is checked against the real ToolSys and zod types, under strict options", async () => {
  const source = [
    `import { defineTool, z } from "libos/tool";`,
    `export default defineTool({`,
    `  name: "t", description: "d",`,
    `  input: z.object({ n: z.number() }), output: z.object({ first: z.string() }),`,
    `  async run({ n }, sys) {`,
    `    await sys.fs.readTxt("a");`, // no such syscall
    `    const parts = ["a"];`,
    `    return { first: parts[n] };`, // string | undefined under noUncheckedIndexedAccess
    `  },`,
    `});`,
  ].join("\n");
  const result = await typecheck(source);
  assert.equal(result.ok, false);
  const lines = result.ok ? [] : result.diagnostics.split("\n").map((l) => l.split(" - ")[0] ?? "");
  assert.deepEqual(lines.filter((l) => l.startsWith("tool.ts:")), ["tool.ts:5:9", "tool.ts:6:18"]);
});

Deno.test("the type-check serves no file but the SDK, zod and the compiler's libs", async () => {
  const kernel = fileURLToPath(new URL("../runtime/kernel.ts", import.meta.url));
  const source = `/// <reference path="/etc/hostname" />\nimport { Kernel } from "${kernel}";\n` +
    `import x from "./sibling.ts";\nexport default [Kernel, x];\n`;
  const result = await typecheck(source);
  assert.equal(result.ok, false);
  const codes = result.ok
    ? []
    : [...result.diagnostics.matchAll(/^(tool\.ts:\d+:\d+) - error (TS\d+)/gm)]
      .map((m) => `${m[1]} ${m[2]}`);
  assert.deepEqual(codes, ["tool.ts:1:22 TS6231", "tool.ts:2:24 TS2307", "tool.ts:3:15 TS2307"]);
});
