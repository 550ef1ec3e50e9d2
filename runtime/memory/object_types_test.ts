import assert from "node:assert/strict";
import { z } from "zod";
import { hasCode, LibosError } from "../errors.ts";
import { defaultObjectTypes, ObjectTypeRegistry } from "./object_types.ts";

const types = defaultObjectTypes();

/** Asserts that `payload` is refused as `type` with EINVAL and a message matching `pattern`. */
function refuses(type: string, payload: unknown, pattern: RegExp): void {
  assert.throws(
    () => types.validate(type, payload),
    (error: unknown) => {
      assert.ok(error instanceof LibosError, String(error));
      assert.equal(error.code, "EINVAL");
      assert.match(error.message, pattern);
      return true;
    },
  );
}

Deno.test("defaultObjectTypes() registers the built-in types with descriptions", () => {
  assert.deepEqual(
    types.list().map((type) => type.name),
    ["file_snapshot", "json", "log", "message", "note", "plan", "report", "text", "tool_result"],
  );
  for (const type of types.list()) assert.notEqual(type.description, "", type.name);
  assert.equal(types.has("note"), true);
  assert.equal(types.has("nope"), false);
  assert.equal(types.get("note")?.name, "note");
  assert.equal(types.get("nope"), undefined);
});

Deno.test("defaultObjectTypes() makes a fresh registry each time", () => {
  const mine = defaultObjectTypes();
  mine.register("ticket", z.object({ id: z.string() }));
  assert.equal(defaultObjectTypes().has("ticket"), false);
});

Deno.test("validate() refuses an unknown type, listing the known ones", () => {
  assert.throws(
    () => types.validate("notes", { text: "x" }),
    (error) =>
      hasCode(error, "EINVAL") &&
      error.message ===
        "Cannot use object type 'notes': no such type (known: file_snapshot, json, log, " +
          "message, note, plan, report, text, tool_result)",
  );
});

Deno.test("note: takes text and optional string tags, refuses unknown keys", () => {
  assert.deepEqual(types.validate("note", { text: "hi" }), { text: "hi" });
  assert.deepEqual(types.validate("note", { text: "hi", tags: ["a"] }), {
    text: "hi",
    tags: ["a"],
  });
  refuses("note", { text: "hi", tags: ["a", 2] }, /'note': payload\.tags\[1\]: .*expected string/);
  refuses("note", { txt: "hi" }, /'note': payload\.text: .*expected string, received undefined/);
  refuses("note", { text: "hi", title: "x" }, /'note': payload: Unrecognized key: "title"/);
  refuses("note", "hi", /'note': payload: .*expected object/);
});

Deno.test("plan: takes steps with a title and an optional done flag", () => {
  const plan = { steps: [{ title: "read" }, { title: "write", done: true }] };
  assert.deepEqual(types.validate("plan", plan), plan);
  assert.deepEqual(types.validate("plan", { steps: [] }), { steps: [] });
  refuses("plan", { steps: [{ title: "a" }, { title: "" }] }, /payload\.steps\[1\]\.title: /);
  refuses("plan", { steps: [{ title: "a", done: "yes" }] }, /payload\.steps\[0\]\.done: .*boolean/);
  refuses("plan", {}, /payload\.steps: /);
});

Deno.test("message: takes from, an optional to, and text", () => {
  assert.deepEqual(types.validate("message", { from: "p_1", text: "hi" }), {
    from: "p_1",
    text: "hi",
  });
  assert.deepEqual(types.validate("message", { from: "p_1", to: "p_2", text: "hi" }), {
    from: "p_1",
    to: "p_2",
    text: "hi",
  });
  refuses("message", { to: "p_2", text: "hi" }, /'message': payload\.from: /);
  refuses("message", { from: "p_1", text: 5 }, /payload\.text: .*expected string/);
});

Deno.test("tool_result: takes a tool, ok, a JSON value or an {code, message} error", () => {
  const ok = { tool: "read_text_file", ok: true, value: { text: "x", lines: [1, 2] } };
  assert.deepEqual(types.validate("tool_result", ok), ok);
  const failed = { tool: "read_text_file", ok: false, error: { code: "ENOENT", message: "gone" } };
  assert.deepEqual(types.validate("tool_result", failed), failed);
  refuses("tool_result", { tool: "t", ok: "yes" }, /payload\.ok: .*boolean/);
  refuses("tool_result", { tool: "t", ok: false, error: { code: "E" } }, /payload\.error\.message/);
  refuses("tool_result", { tool: "t", ok: true, value: { n: NaN } }, /payload\.value/);
  refuses("tool_result", { tool: "t", ok: true, value: () => 1 }, /payload\.value/);
});

Deno.test("file_snapshot: takes text or base64 with a hex sha256 and a size", () => {
  const sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  const text = { path: "a.txt", text: "", sha256, size: 0 };
  assert.deepEqual(types.validate("file_snapshot", text), text);
  const binary = { path: "a.bin", base64: "AAEC", sha256, size: 3 };
  assert.deepEqual(types.validate("file_snapshot", binary), binary);
  const bare = { path: "big.log", sha256, size: 1e9 };
  assert.deepEqual(types.validate("file_snapshot", bare), bare);
  refuses(
    "file_snapshot",
    { ...text, base64: "AAEC" },
    /payload\.base64: .*text or base64, not both/,
  );
  refuses("file_snapshot", { ...binary, base64: "not base64!" }, /payload\.base64: /);
  refuses("file_snapshot", { ...text, sha256: "ABC" }, /payload\.sha256: expected a lowercase hex/);
  refuses("file_snapshot", { ...text, size: -1 }, /payload\.size: /);
  refuses("file_snapshot", { ...text, size: 1.5 }, /payload\.size: /);
  refuses("file_snapshot", { ...text, path: "" }, /payload\.path: /);
});

Deno.test("report: takes a title, a body and an optional record of JSON data", () => {
  const report = { title: "Weekly", body: "All good", data: { count: 3, items: ["a"] } };
  assert.deepEqual(types.validate("report", report), report);
  assert.deepEqual(types.validate("report", { title: "T", body: "" }), { title: "T", body: "" });
  refuses("report", { title: "T", body: "b", data: [1] }, /payload\.data: .*expected record/);
  refuses("report", { title: "T" }, /payload\.body: /);
});

Deno.test("json: takes any JSON value and refuses what JSON cannot hold", () => {
  for (const value of [null, 1, "s", true, [1, { a: null }], { nested: { deep: [] } }]) {
    assert.deepEqual(types.validate("json", value), value);
  }
  refuses("json", undefined, /'json': payload: /);
  refuses("json", { a: Infinity }, /'json': payload\.a: .*expected string, number, .* or record$/);
  refuses("json", { d: new Date(0) }, /'json': payload\.d: /);
});

Deno.test("text: takes exactly {text}", () => {
  assert.deepEqual(types.validate("text", { text: "hello" }), { text: "hello" });
  refuses("text", { text: 1 }, /'text': payload\.text: /);
  refuses("text", { text: "a", extra: 1 }, /Unrecognized key: "extra"/);
});

Deno.test("log: takes {lines} or {text}, and names the field of the closest form", () => {
  assert.deepEqual(types.validate("log", { lines: ["a", "b"] }), { lines: ["a", "b"] });
  assert.deepEqual(types.validate("log", { text: "a\nb" }), { text: "a\nb" });
  refuses("log", { lines: ["a", 2] }, /'log': payload\.lines\[1\]: .*expected string/);
  refuses("log", { lines: ["a"], text: "b" }, /'log': payload: Unrecognized key/);
  refuses("log", {}, /'log': payload\.(lines|text): /);
});

Deno.test("register() adds a user type that validate() then enforces", () => {
  const registry = new ObjectTypeRegistry();
  registry.register("acme.ticket", z.object({ id: z.string(), priority: z.number().default(3) }), {
    description: "A ticket",
  });
  assert.deepEqual(registry.list(), [{ name: "acme.ticket", description: "A ticket" }]);
  assert.deepEqual(registry.validate("acme.ticket", { id: "T-1" }), { id: "T-1", priority: 3 });
  assert.throws(
    () => registry.validate("acme.ticket", { id: 7 }),
    (error) => hasCode(error, "EINVAL") && /'acme\.ticket': payload\.id: /.test(error.message),
  );
  assert.throws(
    () => registry.validate("note", {}),
    /no such type \(known: acme\.ticket\)/,
  );
});

Deno.test("register() refuses a taken name with EEXIST and a malformed one with EINVAL", () => {
  const registry = defaultObjectTypes();
  assert.throws(
    () => registry.register("note", z.string()),
    (error) => hasCode(error, "EEXIST") && /Cannot register object type 'note'/.test(error.message),
  );
  for (const name of ["", "Note", "1note", "no te", "a/b", "x".repeat(65)]) {
    assert.throws(() => registry.register(name, z.string()), (e) => hasCode(e, "EINVAL"), name);
  }
  assert.equal(registry.get("note")?.schema !== undefined, true, "the original type stays");
});

Deno.test("an empty registry says it knows no types", () => {
  assert.throws(
    () => new ObjectTypeRegistry().validate("note", {}),
    /Cannot use object type 'note': no such type \(known: none\)/,
  );
});
