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
    [14, 22, "Cannot use the property 'Deno': a tool reaches the world only through sys"],
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

/** The end of every source below: a well-formed tool. */
const TOOL_TAIL = `export default defineTool({ name: "t", description: "d", input: z.object({}), ` +
  `output: z.object({}), run: () => Promise.resolve({}) });\n`;
const TOOL_HEAD = `import { defineTool, z } from "libos/tool";\n`;

Deno.test("the static check refuses every alias of the global object and of Deno: by name, as a property read, as a constant computed key, and in destructuring", async () => {
  const source = TOOL_HEAD +
    [
      "declare const x: any;",
      "const a = global;",
      "const b = x.globalThis;",
      'const c = x?.["De" + "no"];',
      "const d = x[`Deno`];",
      'const e = x[`${"wi"}ndow`];',
      'const K = "se" + "lf"; const f = x[(K as string)];',
      "const { Deno: g } = x;",
      'const { ["glo" + "bal"]: h } = x;',
      'const { "window": i } = x;',
      "let j; ({ a: [{ Deno: j }] } = x);",
      "for ({ self: j } of [x]) break;",
      'addEventListener("message", () => {}); onmessage = null;',
      "const { Deno } = x;",
    ].join("\n") + "\n" + TOOL_TAIL;
  const result = await staticCheck(source);
  const global = "a tool may not reach the global object";
  const sys = "a tool reaches the world only through sys";
  assert.deepEqual(located(result.ok ? [] : result.problems), [
    [3, 11, `Cannot use 'global': ${global}`],
    [4, 13, `Cannot use the property 'globalThis': ${global}`],
    [5, 15, `Cannot use the property 'Deno': ${sys}`],
    [6, 13, `Cannot use the property 'Deno': ${sys}`],
    [7, 13, `Cannot use the property 'window': ${global}`],
    [8, 36, `Cannot use the property 'self': ${global}`],
    [9, 9, `Cannot use the property 'Deno': ${sys}`],
    [10, 10, `Cannot use the property 'global': ${global}`],
    [11, 9, `Cannot use the property 'window': ${global}`],
    [12, 17, `Cannot use the property 'Deno': ${sys}`],
    [13, 8, `Cannot use the property 'self': ${global}`],
    [14, 1, `Cannot use 'addEventListener': ${global}`],
    [14, 40, `Cannot use 'onmessage': ${global}`],
    [15, 9, `Cannot use 'Deno': ${sys}`],
  ]);
});

Deno.test("a key that only defines, a type member, a label, or a key computed at run time is not a read of the global object", async () => {
  const source = TOOL_HEAD +
    [
      "declare const x: Record<string, unknown>;",
      "const defined = { self: 1, window: 2, Deno: 3, global: 4, globalThis: 5 };",
      "const keyed = { ['Deno']: 1 }, nested = { a: { Deno: 1 } }, listed = [{ window: 1 }];",
      "let y; y = { Deno: 1 };",
      "interface Shape { Deno: number; self(): void }",
      "class Member { Deno = 1; window() {} }",
      "self: for (;;) break self;",
      'const runtime = x["Den" + String(x.k)];',
    ].join("\n") + "\n" + TOOL_TAIL;
  assert.deepEqual(await staticCheck(source), { ok: true, imports: ["libos/tool"] });
});

Deno.test("'this' is refused at the top level and in a plain function, accepted in a class member or an object's method", async () => {
  const source = TOOL_HEAD +
    [
      "const top = this;",
      "function plain() { return this; }",
      "const expression = function () { return () => this; };",
      "class C { v = 1; w = this.v; constructor() { this.v = 2; } m() { return () => this.v; } static { this.name; } }",
      "const o = { v: 1, get() { return this.v; }, get value() { return this.v; } };",
    ].join("\n") + "\n" + TOOL_TAIL;
  const result = await staticCheck(source);
  const message =
    "Cannot use 'this' outside a class member or an object's method: a function called without a receiver may be given the global object";
  assert.deepEqual(located(result.ok ? [] : result.problems), [
    [2, 13, message],
    [3, 27, message],
    [4, 47, message],
  ]);
});

Deno.test("a @ts-ignore, @ts-expect-error or @ts-nocheck comment is refused wherever it is, in any spacing or case; the same text in a string is not a comment", async () => {
  const source = TOOL_HEAD +
    [
      "// @ts-ignore",
      "/* @TS-Expect-Error */ const x: unknown = {}; //@ts -  nocheck",
      "const m = `${x}`; /** @ts-nocheck */ const n = `a${`b${x}`}c`; // @ts-ignore",
      "/**",
      " * A doc comment.",
      " * @ts-expect-error",
      " */",
      'const s = "// @ts-ignore", t = `/* @ts-nocheck */ ${s}`, r = /\\/\\/ @ts-ignore/;',
      "const u = [m, n, t, r];",
    ].join("\n") + "\n" + TOOL_TAIL + "// @ts-expect-error\n";
  const result = await staticCheck(source);
  const comment = (d: string) =>
    `Cannot use a '@ts-${d}' comment in a tool: the type-check must see all of it`;
  assert.deepEqual(located(result.ok ? [] : result.problems), [
    [2, 4, comment("ignore")],
    [3, 4, comment("expect-error")],
    [3, 49, comment("nocheck")],
    [4, 23, comment("nocheck")],
    [4, 67, comment("ignore")],
    [7, 4, comment("expect-error")],
    [12, 4, comment("expect-error")],
  ]);
});

Deno.test("the red team's alias is refused for a JIT tool; a tools-folder file is left to the isolate, which holds no host facts", async () => {
  const source = TOOL_HEAD +
    '// @ts-ignore\nconst g: any = global;\nexport const pid = g["De" + "no"].pid;\n' + TOOL_TAIL;
  const jit = await staticCheck(source);
  assert.deepEqual(located(jit.ok ? [] : jit.problems), [
    [2, 4, "Cannot use a '@ts-ignore' comment in a tool: the type-check must see all of it"],
    [3, 16, "Cannot use 'global': a tool may not reach the global object"],
    [4, 22, "Cannot use the property 'Deno': a tool reaches the world only through sys"],
  ]);
  assert.deepEqual(await staticCheck(source, { profile: "folder" }), {
    ok: true,
    imports: ["libos/tool"],
  });
});
