import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodeToolName,
  encodeToolName,
  WIRE_NAME_MAX,
  wireNamed,
  WireNames,
} from "./model_wire.ts";

const WIRE = /^[a-zA-Z0-9_-]+$/;

Deno.test("tool names: primitive names stay as they are, MCP names lose their dot, odd runs are hex-escaped", () => {
  const cases: [string, string][] = [
    ["read_text_file", "read_text_file"],
    ["everything.echo", "everything__echo"],
    ["everything.get-sum", "everything__get-sum"],
    ["files.read_text_file", "files__read_text_file"],
    ["a__b", "a___5f5f___b"],
    ["a_.b", "a___5f2e___b"],
    ["srv.tools/list", "srv__tools___2f___list"],
    // The run ".é" is one odd run, hex-escaped whole.
    ["x.é", "x___2ec3a9___"],
  ];
  for (const [name, wire] of cases) {
    assert.equal(encodeToolName(name), wire, name);
    assert.equal(decodeToolName(wire), name, wire);
  }
});

Deno.test("tool names: the encoding is reversible and collision-free for any name, and vendor-safe", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", minLength: 1, maxLength: 40 }), (name) => {
      const wire = encodeToolName(name);
      assert.match(wire, WIRE);
      assert.equal(decodeToolName(wire), name);
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(
      fc.string({ unit: fc.constantFrom("a", "_", ".", "-", "/"), minLength: 1, maxLength: 12 }),
      fc.string({ unit: fc.constantFrom("a", "_", ".", "-", "/"), minLength: 1, maxLength: 12 }),
      (a, b) => a === b || encodeToolName(a) !== encodeToolName(b),
    ),
    { numRuns: 5000 },
  );
});

Deno.test("tool names: a wire name that is no encoding decodes to null", () => {
  for (const bad of ["a____b", "a___zz___b", "a___61___b", "a___5f___b", "a___5f5f", "a b"]) {
    assert.equal(decodeToolName(bad), null, bad);
  }
});

Deno.test("tool names: one too long for the vendor is cut with a hash and mapped back by the request's table", () => {
  const long = `server.${"t".repeat(80)}`;
  const names = new WireNames(["read_text_file", long], WIRE_NAME_MAX.openai);
  const wire = names.toWire(long);
  assert.ok(wire.length <= 64 && WIRE.test(wire), wire);
  assert.equal(names.fromWire(wire), long);
  assert.equal(
    new WireNames([long], WIRE_NAME_MAX.anthropic).toWire(long),
    `server__${"t".repeat(80)}`,
  );
  // A name the model made up is handed to the kernel decoded, to be refused as unknown.
  assert.equal(names.fromWire("nope__tool"), "nope.tool");
});

Deno.test("wireNamed renames the tool table and earlier calls, and maps returned calls back", () => {
  const { names, tools, messages } = wireNamed({
    tools: [{ name: "everything.echo", description: "", inputSchema: {} }],
    messages: [
      { role: "user", text: "hi" },
      { role: "assistant", text: null, calls: [{ id: "c0.0", name: "everything.echo", args: {} }] },
      { role: "tool", callId: "c0.0", name: "everything.echo", result: { ok: true, value: 1 } },
    ],
  }, WIRE_NAME_MAX.openai);
  assert.deepEqual(tools.map((t) => t.name), ["everything__echo"]);
  const assistant = messages[1];
  assert.ok(assistant?.role === "assistant");
  assert.equal(assistant.calls[0]!.name, "everything__echo");
  assert.deepEqual(names.fromWireCalls([{ name: "everything__echo", args: { m: 1 } }]), [
    { name: "everything.echo", args: { m: 1 } },
  ]);
});
