import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { staticCheck, type StaticProblem } from "./jit_static_check.ts";

const fixture = (name: string) =>
  Deno.readTextFile(fileURLToPath(new URL(`./testdata/jit/${name}`, import.meta.url)));

/** [line, column, what the message must name]. */
function located(problems: StaticProblem[]): [number, number, string][] {
  return problems.map((p) => [p.line, p.column, p.message]);
}

Deno.test("the static check accepts a well-formed tool and lists its imports", async () => {
  assert.deepEqual(await staticCheck(await fixture("word_count.ts")), {
    ok: true,
    imports: ["libos/tool"],
  });
  const both = `import { defineTool } from "libos/tool";\nimport { z } from "zod";\n` +
    `export default defineTool({ name: "t", description: "d", input: z.object({}), ` +
    `output: z.object({}), run: () => Promise.resolve({}) });\n`;
  assert.deepEqual(await staticCheck(both), { ok: true, imports: ["libos/tool", "zod"] });
});

Deno.test("the static check refuses each forbidden construct at its line and column", async () => {
  const result = await staticCheck(await fixture("refused.txt"));
  assert.equal(result.ok, false);
  // Lines 26 and 27 use `fetch` and `eval` as a property name and inside a type: not refused.
  assert.deepEqual(located(result.ok ? [] : result.problems), [
    [1, 22, "Cannot use a /// <reference> directive in a tool"],
    [3, 30, "Cannot import 'node:fs': a tool may import only 'libos/tool' and 'zod'"],
    [4, 24, "Cannot import 'zod' with attributes: a tool imports only code"],
    [5, 1, "Cannot use 'export * from 'zod'': a tool exports only its own definitions"],
    [6, 1, "Cannot use 'export … from 'zod'': a tool exports only its own definitions"],
    [7, 20, "Cannot use import(): a tool imports only statically, from libos/tool or zod"],
    [8, 12, "Cannot use 'require': a tool imports only statically, from libos/tool or zod"],
    [9, 14, "Cannot use import.meta in a tool: it has no location of its own"],
    [10, 1, "Cannot use 'eval': a tool may not generate code from strings"],
    [11, 15, "Cannot use 'Function': a tool may not generate code from strings"],
    [12, 11, "Cannot use 'Function': a tool may not generate code from strings"],
    [13, 1, "Cannot use 'Deno': a tool reaches the world only through sys"],
    [14, 11, "Cannot use 'globalThis': a tool may not reach the global object"],
    [15, 11, "Cannot use 'self': a tool may not reach the global object"],
    [16, 11, "Cannot use 'window': a tool may not reach the global object"],
    [17, 11, "Cannot use 'fetch': a tool reaches the network only through sys"],
    [18, 15, "Cannot use 'WebSocket': a tool reaches the network only through sys"],
    [19, 15, "Cannot use 'XMLHttpRequest': a tool reaches the network only through sys"],
    [20, 15, "Cannot use 'Worker': a tool may not start workers"],
    [21, 15, "Cannot use 'BroadcastChannel': a tool may not open channels to other isolates"],
    [22, 11, "Cannot use 'caches': a tool reaches storage only through sys"],
    [23, 11, "Cannot use 'WebAssembly': a tool may not compile code"],
    [24, 1, "Cannot use 'importScripts': a tool imports only statically, from libos/tool or zod"],
    [25, 1, "Cannot declare ambient modules or globals in a tool"],
    [
      28,
      16,
      "Cannot accept the default export: it must be a defineTool({...}) call, with defineTool imported from libos/tool",
    ],
  ]);
});

Deno.test("the static check refuses a module without a default export, at its end", async () => {
  assert.deepEqual(await staticCheck(await fixture("no_default.txt")), {
    ok: false,
    problems: [{
      line: 10,
      column: 1,
      message:
        "Cannot find the tool: the module has no default export; end it with 'export default defineTool({...})'",
    }],
  });
});

Deno.test("the default export must be a call of the SDK's defineTool, however it is imported", async () => {
  const head = `import { z } from "zod";\n`;
  const body = `({ name: "t", description: "d", input: z.object({}), output: z.object({}), ` +
    `run: () => Promise.resolve({}) })`;
  const cases: [string, boolean][] = [
    [`import { defineTool as dt } from "libos/tool";\n${head}export default dt${body};`, true],
    [`import * as sdk from "libos/tool";\n${head}export default (sdk.defineTool${body});`, true],
    // A local function of the same name is not the SDK's.
    [
      `${head}function defineTool(x: unknown) { return x; }\nexport default defineTool${body};`,
      false,
    ],
    [`import { defineTool } from "libos/tool";\nexport default function run() {}`, false],
    [`import { defineTool } from "libos/tool";\nconst t = 1;\nexport { t as default };`, false],
  ];
  const outcomes = await Promise.all(cases.map(async ([source]) => (await staticCheck(source)).ok));
  assert.deepEqual(outcomes, cases.map(([, ok]) => ok));
});

Deno.test("a syntax error is reported at its position", async () => {
  const result = await staticCheck(
    `import { defineTool } from "libos/tool";\nconst x = (;\nexport default defineTool({} as never);\n`,
  );
  assert.deepEqual(result, {
    ok: false,
    problems: [{ line: 2, column: 12, message: "Cannot parse: Expression expected." }],
  });
});

Deno.test("a tools-folder file gets the import rules but not the forbidden names", async () => {
  const source = `import { defineTool, z } from "libos/tool";\n` +
    `export default defineTool({ name: "t", description: "d", input: z.object({}),\n` +
    `  output: z.object({}), async run() { await Deno.readTextFile("x"); return {}; } });\n`;
  assert.deepEqual(await staticCheck(source, { profile: "folder" }), {
    ok: true,
    imports: ["libos/tool"],
  });
  const jit = await staticCheck(source);
  assert.deepEqual(located(jit.ok ? [] : jit.problems), [
    [3, 45, "Cannot use 'Deno': a tool reaches the world only through sys"],
  ]);
  const loader = source.replace(
    'await Deno.readTextFile("x")',
    'await import("data:text/javascript,export default 1"); require("fs")',
  );
  const folder = await staticCheck(loader, { profile: "folder" });
  assert.deepEqual(located(folder.ok ? [] : folder.problems), [
    [3, 45, "Cannot use import(): a tool imports only statically, from libos/tool or zod"],
    [3, 94, "Cannot use 'require': a tool imports only statically, from libos/tool or zod"],
  ]);
});
