import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { canonicalJson, sha256Hex } from "./canonical_json.ts";

Deno.test("canonicalJson() sorts keys at every depth and writes no whitespace", () => {
  const text = canonicalJson({ b: 1, a: { d: [3, { z: true, y: null }], c: "x" } });
  assert.equal(text, '{"a":{"c":"x","d":[3,{"y":null,"z":true}]},"b":1}');
});

Deno.test("canonicalJson() orders keys by UTF-16 code units, not by locale", () => {
  // "Z" (0x5a) < "a" (0x61) < "é" (0xe9) < "😀" (0xd83d…) < "ｚ" (0xff5a)
  const text = canonicalJson({ "ｚ": 1, "😀": 2, "é": 3, a: 4, Z: 5 });
  assert.equal(text, '{"Z":5,"a":4,"é":3,"😀":2,"ｚ":1}');
});

Deno.test("canonicalJson() gives the same text for the same value built in any key order", () => {
  const one = canonicalJson({ x: 1, y: [1, 2], z: { q: "a", p: "b" } });
  const two = canonicalJson({ z: { p: "b", q: "a" }, y: [1, 2], x: 1 });
  assert.equal(one, two);
});

Deno.test("canonicalJson() omits undefined properties", () => {
  assert.equal(canonicalJson({ a: undefined, b: 2, c: { d: undefined } }), '{"b":2,"c":{}}');
});

Deno.test("canonicalJson() encodes scalars as JSON.stringify does", () => {
  for (
    const value of [0, -0, 1.5, -1e21, 1e-7, "", 'a"b\\c\n\u0001', "\ud800", true, false, null]
  ) {
    assert.equal(canonicalJson(value), JSON.stringify(value), String(value));
  }
});

Deno.test("canonicalJson() encodes a Date through its toJSON", () => {
  assert.equal(
    canonicalJson({ at: new Date(Date.UTC(2024, 0, 2)) }),
    '{"at":"2024-01-02T00:00:00.000Z"}',
  );
});

Deno.test("canonicalJson() refuses non-finite numbers, naming the path", () => {
  assert.throws(
    () => canonicalJson({ detail: { items: [1, 2, NaN] } }),
    new TypeError(
      "Cannot encode '$.detail.items[2]' as canonical JSON: NaN is not a finite number",
    ),
  );
  assert.throws(() => canonicalJson(Infinity), /Cannot encode '\$' .*Infinity/);
});

Deno.test("canonicalJson() refuses functions, symbols, bigints and undefined values", () => {
  assert.throws(() => canonicalJson({ f: () => 1 }), /'\$\.f'.*a function is not JSON/);
  assert.throws(() => canonicalJson({ "a b": Symbol("s") }), /'\$\["a b"\]'.*a symbol is not JSON/);
  assert.throws(() => canonicalJson([1n]), /'\$\[0\]'.*a bigint is not JSON/);
  assert.throws(() => canonicalJson([1, undefined]), /'\$\[1\]'.*undefined is not JSON/);
  assert.throws(() => canonicalJson(undefined), /'\$'.*: undefined is not JSON/);
});

Deno.test("canonicalJson() refuses objects that JSON.stringify would silently empty", () => {
  assert.throws(() => canonicalJson({ m: new Map([[1, 2]]) }), /'\$\.m'.*a Map is not JSON/);
  assert.throws(() => canonicalJson({ b: new Uint8Array(2) }), /'\$\.b'.*a Uint8Array is not JSON/);
  assert.throws(() => canonicalJson({ e: new Error("x") }), /'\$\.e'.*an? Error is not JSON/);
});

Deno.test("canonicalJson() accepts objects without a prototype", () => {
  const bare = Object.assign(Object.create(null) as Record<string, unknown>, { b: 1, a: 2 });
  assert.equal(canonicalJson(bare), '{"a":2,"b":1}');
});

Deno.test("canonicalJson() refuses cycles but accepts a shared, acyclic value twice", () => {
  const shared = { k: 1 };
  assert.equal(canonicalJson({ a: shared, b: [shared] }), '{"a":{"k":1},"b":[{"k":1}]}');
  const loop: Record<string, unknown> = { a: {} };
  (loop.a as Record<string, unknown>).back = loop;
  assert.throws(() => canonicalJson(loop), /'\$\.a\.back'.*cycle/);
});

Deno.test("canonicalJson() refuses a toJSON that returns another toJSON object", () => {
  const selfish = {
    toJSON() {
      return this;
    },
  };
  assert.throws(() => canonicalJson({ s: selfish }), /'\$\.s'.*toJSON/);
});

Deno.test("sha256Hex() matches createHash for text (as UTF-8) and for bytes", () => {
  const text = "héllo 😀";
  const expected = createHash("sha256").update(new TextEncoder().encode(text)).digest("hex");
  assert.equal(sha256Hex(text), expected);
  assert.equal(sha256Hex(new TextEncoder().encode(text)), expected);
  assert.equal(
    sha256Hex(""),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
});

Deno.test("canonicalJson() encodes the same on its fast and careful paths", () => {
  const value = {
    z: [1, -0.5, 'q"\\\n', { b: null, a: [true, false, { d: 1, c: [] }] }],
    "é": {},
    A: "😀\ud800",
    skip: undefined,
  };
  const fast = canonicalJson({ ...value, at: "1970-01-01T00:00:00.000Z" });
  // A Date anywhere sends the whole value down the careful path.
  const careful = canonicalJson({ ...value, at: new Date(0) });
  assert.equal(careful, fast);
  assert.equal(
    fast,
    '{"A":"😀\\ud800","at":"1970-01-01T00:00:00.000Z","z":[1,-0.5,"q\\"\\\\\\n",' +
      '{"a":[true,false,{"c":[],"d":1}],"b":null}],"é":{}}',
  );
});

Deno.test("canonicalJson() encodes values nested deeper than its fast path", () => {
  let deep: unknown = "leaf";
  for (let i = 0; i < 1000; i++) deep = i % 2 === 0 ? [deep] : { k: deep };
  assert.equal(canonicalJson(deep), JSON.stringify(deep));
});
