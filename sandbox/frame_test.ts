import assert from "node:assert/strict";
import { decodeFrameBody, encodeFrame, FrameError, FrameReader } from "./frame.ts";

/** A stream that delivers `bytes` in chunks of `size`, then ends. */
function chunked(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

Deno.test("frames carry binaries as raw bytes, not base64, and put them back in place", () => {
  const bytes = new Uint8Array(1000).fill(7);
  const message = { type: "result", value: { data: bytes, list: [1, new Uint8Array([1, 2])] } };
  const frame = encodeFrame(message, 1 << 20);
  // Raw bytes: the frame is barely larger than the binary itself.
  assert.ok(frame.length < 1000 + 150, `frame of ${frame.length} bytes`);
  const decoded = decodeFrameBody(frame.subarray(4));
  assert.deepEqual(decoded, message);
  assert.ok((decoded["value"] as { data: unknown }).data instanceof Uint8Array);
});

Deno.test("a reader reassembles frames split across chunks, in order", async () => {
  const a = { type: "a", n: 1 };
  const b = { type: "b", data: new Uint8Array([9, 8, 7]) };
  const reader = new FrameReader(
    chunked(concat(encodeFrame(a, 1024), encodeFrame(b, 1024)), 3),
    { maxBytes: 1024 },
  );
  assert.deepEqual(await reader.next(), a);
  assert.deepEqual(await reader.next(), b);
  assert.equal(await reader.next(), null);
});

Deno.test("an oversized frame is refused from its size field, before its body is read", async () => {
  const header = new Uint8Array(4);
  new DataView(header.buffer).setUint32(0, 1 << 30);
  let pulled = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled += 1;
      controller.enqueue(pulled === 1 ? header : new Uint8Array(1 << 16));
    },
  }, { highWaterMark: 0 });
  const reader = new FrameReader(stream, { maxBytes: 1 << 20 });
  await assert.rejects(
    reader.next(),
    (e: unknown) => e instanceof FrameError && e.fault === "oversize",
  );
  assert.equal(pulled, 1);
  await reader.cancel();
});

Deno.test("encoding a message over the limit throws an oversize FrameError", () => {
  assert.throws(
    () => encodeFrame({ type: "done", value: "x".repeat(2000) }, 1024),
    (e: unknown) => e instanceof FrameError && e.fault === "oversize" && e.size > 2000,
  );
});

Deno.test("malformed frames are refused: bad JSON, a truncated body, binary paths that lead nowhere", async () => {
  const json = (text: string) => {
    const body = new TextEncoder().encode(text);
    const out = new Uint8Array(8 + body.length);
    new DataView(out.buffer).setUint32(0, 4 + body.length);
    new DataView(out.buffer).setUint32(4, body.length);
    out.set(body, 8);
    return out;
  };
  const faults: string[] = [];
  for (
    const bytes of [
      json("{nope"),
      json("[1, 2]"),
      json('{"a": 1, "$b": [["__proto__"]]}'),
      json('{"a": 1, "$b": [["a"]]}'),
      encodeFrame({ t: 1 }, 1024).subarray(0, 10),
    ]
  ) {
    const reader = new FrameReader(chunked(bytes, 64), { maxBytes: 1024 });
    try {
      await reader.next();
      faults.push("accepted");
    } catch (error) {
      faults.push(error instanceof FrameError ? `${error.fault}: ${error.message}` : String(error));
    }
  }
  assert.deepEqual(faults, [
    "malformed: the frame's JSON does not parse",
    "malformed: the frame does not hold an object",
    "malformed: a binary overruns the frame",
    "malformed: a binary overruns the frame",
    "malformed: the stream ended inside a frame",
  ]);
});
