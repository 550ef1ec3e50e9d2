/**
 * Length-prefixed frames for the host ↔ kernel pipe. A frame is
 *
 * ```
 * u32 size (bytes after this field) · u32 jsonSize · JSON · (u32 size · bytes)*
 * ```
 *
 * The JSON is the message. Each `Uint8Array` inside it travels after the JSON
 * as raw bytes (no base64) and the JSON holds `null` in its place plus a
 * reserved top-level `"$b"` key listing the paths to put them back at.
 * A reader refuses a frame larger than its limit from the size field alone,
 * before it reads the body.
 *
 * This file is loaded by the isolate host too, so it imports nothing.
 *
 * @module
 */

/** Why a frame was refused. */
export type FrameFault = "oversize" | "malformed";

/** Thrown by {@linkcode FrameReader} and {@linkcode encodeFrame}. */
export class FrameError extends Error {
  /** What was wrong with the frame. */
  readonly fault: FrameFault;
  /** The size the frame declared, for an oversized one. */
  readonly size: number;

  constructor(fault: FrameFault, message: string, size = 0) {
    super(message);
    this.name = "FrameError";
    this.fault = fault;
    this.size = size;
  }
}

/** The reserved top-level key that lists binary paths. */
export const BINARY_KEY = "$b";

const _encoder = new TextEncoder();
const _decoder = new TextDecoder();
const _MAX_WALK_DEPTH = 64;
/** Texts up to this length are encoded straight into the frame. */
const _SMALL = 1 << 16;

type _Path = (string | number)[];

/**
 * Encodes one message as a frame; throws {@linkcode FrameError} `oversize`
 * when it would exceed `maxBytes`.
 */
export function encodeFrame(message: Record<string, unknown>, maxBytes: number): Uint8Array {
  const bins: Uint8Array[] = [];
  let body: unknown = message;
  if (_hasBinary(message, 0)) {
    const paths: _Path[] = [];
    const copy = _extract(message, [], bins, paths, 0) as Record<string, unknown>;
    copy[BINARY_KEY] = paths;
    body = copy;
  }
  const text = JSON.stringify(body);
  let binBytes = 0;
  for (const b of bins) binBytes += 4 + b.length;
  // UTF-8 takes at least one byte per UTF-16 unit: a long text is refused before encoding.
  if (8 + text.length + binBytes > maxBytes) {
    const size = 8 + text.length + binBytes;
    throw new FrameError(
      "oversize",
      `a ${size}-byte message exceeds the ${maxBytes}-byte limit`,
      size,
    );
  }
  let out: Uint8Array;
  let written: number;
  if (text.length <= _SMALL) {
    // One allocation: UTF-8 takes at most 3 bytes per UTF-16 unit.
    out = new Uint8Array(8 + text.length * 3 + binBytes);
    written = _encoder.encodeInto(text, out.subarray(8)).written;
  } else {
    const json = _encoder.encode(text);
    written = json.length;
    out = new Uint8Array(8 + written + binBytes);
    out.set(json, 8);
  }
  const size = 4 + written + binBytes;
  if (size + 4 > maxBytes) {
    throw new FrameError(
      "oversize",
      `a ${size + 4}-byte message exceeds the ${maxBytes}-byte limit`,
      size + 4,
    );
  }
  const view = new DataView(out.buffer);
  view.setUint32(0, size);
  view.setUint32(4, written);
  let at = 8 + written;
  for (const b of bins) {
    view.setUint32(at, b.length);
    out.set(b, at + 4);
    at += 4 + b.length;
  }
  return out.subarray(0, at);
}

function _hasBinary(value: unknown, depth: number): boolean {
  if (typeof value !== "object" || value === null || depth > _MAX_WALK_DEPTH) return false;
  if (value instanceof Uint8Array) return true;
  if (Array.isArray(value)) return value.some((v) => _hasBinary(v, depth + 1));
  for (const key in value) {
    if (_hasBinary((value as Record<string, unknown>)[key], depth + 1)) return true;
  }
  return false;
}

function _extract(
  value: unknown,
  path: _Path,
  bins: Uint8Array[],
  paths: _Path[],
  depth: number,
): unknown {
  if (typeof value !== "object" || value === null || depth > _MAX_WALK_DEPTH) return value;
  if (value instanceof Uint8Array) {
    bins.push(value);
    paths.push(path);
    return null;
  }
  if (Array.isArray(value)) {
    return value.map((v, i) => _extract(v, [...path, i], bins, paths, depth + 1));
  }
  const out: Record<string, unknown> = {};
  for (const key in value) {
    out[key] = _extract(
      (value as Record<string, unknown>)[key],
      [...path, key],
      bins,
      paths,
      depth + 1,
    );
  }
  return out;
}

/** Options of {@linkcode FrameReader}. */
export interface FrameReaderOptions {
  /** Largest frame accepted, in bytes, size field included. */
  maxBytes: number;
}

/** Reads frames from a byte stream, one message at a time. */
export class FrameReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #max: number;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #lastSize = 0;

  constructor(stream: ReadableStream<Uint8Array>, options: FrameReaderOptions) {
    this.#reader = stream.getReader();
    this.#max = options.maxBytes;
  }

  /**
   * The next message, or `null` at a clean end of stream. Throws
   * {@linkcode FrameError} for an oversized or malformed frame; the stream is
   * then unusable.
   */
  async next(): Promise<Record<string, unknown> | null> {
    if (!(await this.#fill(4))) {
      if (this.#buffered === 0) return null;
      throw new FrameError("malformed", "the stream ended inside a frame header");
    }
    const head = this.#take(4);
    const size = new DataView(head.buffer, head.byteOffset, 4).getUint32(0);
    if (size + 4 > this.#max) {
      throw new FrameError(
        "oversize",
        `a ${size + 4}-byte frame exceeds the ${this.#max}-byte limit`,
        size + 4,
      );
    }
    if (size < 4 || !(await this.#fill(size))) {
      throw new FrameError("malformed", "the stream ended inside a frame");
    }
    this.#lastSize = size + 4;
    return decodeFrameBody(this.#take(size));
  }

  /** The size of the last frame read, in bytes, size field included. */
  get lastSize(): number {
    return this.#lastSize;
  }

  /** Releases the stream. */
  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }

  async #fill(n: number): Promise<boolean> {
    while (this.#buffered < n) {
      const { value, done } = await this.#reader.read();
      if (done) return false;
      if (value.length === 0) continue;
      this.#chunks.push(value);
      this.#buffered += value.length;
    }
    return true;
  }

  #take(n: number): Uint8Array {
    const first = this.#chunks[0]!;
    let out: Uint8Array;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
    } else {
      out = new Uint8Array(n);
      let at = 0;
      while (at < n) {
        const chunk = this.#chunks[0]!;
        const want = Math.min(n - at, chunk.length);
        out.set(chunk.subarray(0, want), at);
        at += want;
        if (want === chunk.length) this.#chunks.shift();
        else this.#chunks[0] = chunk.subarray(want);
      }
    }
    this.#buffered -= n;
    return out;
  }
}

/** Decodes a frame body (everything after the size field). */
export function decodeFrameBody(body: Uint8Array): Record<string, unknown> {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const jsonSize = view.getUint32(0);
  if (4 + jsonSize > body.length) throw new FrameError("malformed", "the JSON overruns the frame");
  let message: unknown;
  try {
    message = JSON.parse(_decoder.decode(body.subarray(4, 4 + jsonSize)));
  } catch {
    throw new FrameError("malformed", "the frame's JSON does not parse");
  }
  if (typeof message !== "object" || message === null || Array.isArray(message)) {
    throw new FrameError("malformed", "the frame does not hold an object");
  }
  const record = message as Record<string, unknown>;
  let at = 4 + jsonSize;
  if (!Object.hasOwn(record, BINARY_KEY)) {
    if (at !== body.length) throw new FrameError("malformed", "the frame has trailing bytes");
    return record;
  }
  const paths = record[BINARY_KEY];
  delete record[BINARY_KEY];
  if (!Array.isArray(paths)) throw new FrameError("malformed", "the binary paths are not a list");
  for (const path of paths) {
    if (at + 4 > body.length) throw new FrameError("malformed", "a binary overruns the frame");
    const size = view.getUint32(at);
    if (at + 4 + size > body.length) {
      throw new FrameError("malformed", "a binary overruns the frame");
    }
    _place(record, path, body.slice(at + 4, at + 4 + size));
    at += 4 + size;
  }
  if (at !== body.length) throw new FrameError("malformed", "the frame has trailing bytes");
  return record;
}

function _place(root: Record<string, unknown>, path: unknown, bytes: Uint8Array): void {
  if (!Array.isArray(path) || path.length === 0 || path.length > _MAX_WALK_DEPTH) {
    throw new FrameError("malformed", "a binary path is malformed");
  }
  let node: unknown = root;
  for (let i = 0; i < path.length; i++) {
    const key = path[i];
    if (typeof node !== "object" || node === null) {
      throw new FrameError("malformed", "a binary path leads nowhere");
    }
    const ok = Array.isArray(node)
      ? typeof key === "number" && Number.isInteger(key) && key >= 0 && key < node.length
      : typeof key === "string" && key !== "__proto__" && Object.hasOwn(node, key);
    if (!ok) throw new FrameError("malformed", "a binary path leads nowhere");
    if (i === path.length - 1) {
      if ((node as Record<string, unknown>)[key] !== null) {
        throw new FrameError("malformed", "a binary path points at a value");
      }
      (node as Record<string, unknown>)[key] = bytes;
    } else {
      node = (node as Record<string, unknown>)[key];
    }
  }
}
