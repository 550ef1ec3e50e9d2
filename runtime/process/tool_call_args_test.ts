import assert from "node:assert/strict";
import {
  isMalformedArgs,
  MALFORMED_KEY,
  malformedCallResult,
  parseToolArgs,
} from "./tool_call_args.ts";

Deno.test("parseToolArgs takes a JSON object or nothing, and marks anything else with its raw text", () => {
  assert.deepEqual(parseToolArgs('{"path":"a"}'), { path: "a" });
  assert.deepEqual(parseToolArgs("  "), {});
  for (const raw of ['{"path": "a"', "[1,2]", "null", "42", "path=a"]) {
    const args = parseToolArgs(raw);
    assert.ok(isMalformedArgs(args), raw);
    assert.equal(args[MALFORMED_KEY], raw);
  }
  assert.equal(isMalformedArgs({ path: "a" }), false);
});

Deno.test("malformedCallResult is an EINVAL result that quotes the text escaped and asks for a repair", () => {
  const r = malformedCallResult("read_text_file", { [MALFORMED_KEY]: '{"path": "a\u001b[2J' });
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.error.code, "EINVAL");
  assert.ok(!r.error.message.includes("\u001b"));
  assert.match(
    r.error.message,
    /^Cannot call tool 'read_text_file': its arguments are not a JSON object: /,
  );
  assert.match(r.error.message, /Repair: call 'read_text_file' again/);
});
