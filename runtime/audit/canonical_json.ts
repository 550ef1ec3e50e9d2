/**
 * Canonical JSON: one text for one value, so that a hash over it means the same
 * thing on every host and in every release. The audit chain, approval hashes
 * and content addresses are all computed over it.
 *
 * @module
 */
import { hash } from "node:crypto";

/**
 * Encodes `value` as canonical JSON: object keys sorted by UTF-16 code unit
 * order, no whitespace, properties whose value is `undefined` omitted.
 *
 * What is JSON: `null`, booleans, finite numbers, strings, arrays and plain
 * objects (prototype `Object.prototype` or `null`); an object with a `toJSON`
 * method (a `Date`) is encoded through it, as `JSON.stringify` does. Anything
 * else — a non-finite number, a bigint, a function, a symbol, `undefined` as a
 * value (top level or array element), a `Map`, a typed array, an `Error`, a
 * cycle — is refused with a `TypeError` naming its path (`$.detail.items[2]`),
 * rather than silently dropped or turned into `null` or `{}`.
 *
 * @example
 * ```ts
 * canonicalJson({ b: 1, a: [true, null], c: undefined }); // '{"a":[true,null],"b":1}'
 * ```
 */
export function canonicalJson(value: unknown): string {
  try {
    return _encodePlain(value, 0);
  } catch (error) {
    if (error !== _NOT_PLAIN) throw error;
  }
  // Dates, cycles and errors take the careful path, which also names the path.
  return new _Encoder().encode(value, "");
}

/** The hex SHA-256 digest of `text` (UTF-8 encoded) or of raw bytes. */
export function sha256Hex(text: string | Uint8Array): string {
  return hash("sha256", text, "hex");
}

/** Thrown by the fast path for anything it leaves to {@linkcode _Encoder}. */
const _NOT_PLAIN = Symbol("not plain JSON");

/** Past this depth the fast path gives up: the careful one tells a cycle from a deep value. */
const _PLAIN_DEPTH = 256;

/**
 * The fast path: plain data only, no bookkeeping. Anything else — including
 * every error — throws {@linkcode _NOT_PLAIN} and is encoded again carefully.
 */
function _encodePlain(value: unknown, depth: number): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "number":
      if (Number.isFinite(value)) return String(value);
      throw _NOT_PLAIN;
    case "boolean":
      return value ? "true" : "false";
    case "object": {
      if (value === null) return "null";
      if (depth >= _PLAIN_DEPTH) throw _NOT_PLAIN;
      if (Array.isArray(value)) {
        let out = "[";
        for (let i = 0; i < value.length; i++) {
          const item: unknown = value[i];
          if (item === undefined) throw _NOT_PLAIN;
          out += (i === 0 ? "" : ",") + _encodePlain(item, depth + 1);
        }
        return out + "]";
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) throw _NOT_PLAIN;
      const record = value as Record<string, unknown>;
      if (typeof record.toJSON === "function") throw _NOT_PLAIN;
      const keys = Object.keys(record);
      if (!_isSorted(keys)) keys.sort();
      let out = "{";
      for (const key of keys) {
        const item = record[key];
        if (item === undefined) continue;
        out += (out.length === 1 ? "" : ",") + JSON.stringify(key) + ":" +
          _encodePlain(item, depth + 1);
      }
      return out + "}";
    }
    default:
      throw _NOT_PLAIN;
  }
}

function _isSorted(keys: readonly string[]): boolean {
  for (let i = 1; i < keys.length; i++) if (keys[i - 1]! > keys[i]!) return false;
  return true;
}

class _Encoder {
  /** Keys from the root to the value being encoded, for error paths. */
  readonly #path: (string | number)[] = [];
  /** Objects and arrays being encoded, to refuse cycles. */
  readonly #open: object[] = [];

  encode(value: unknown, key: string): string {
    switch (typeof value) {
      case "string":
        return JSON.stringify(value);
      case "number":
        if (Number.isFinite(value)) return String(value);
        throw this.#refuse(`${value} is not a finite number`);
      case "boolean":
        return value ? "true" : "false";
      case "object":
        return value === null ? "null" : this.#encodeObject(value, key);
      case "undefined":
        throw this.#refuse("undefined is not JSON");
      default:
        throw this.#refuse(`a ${typeof value} is not JSON`);
    }
  }

  #encodeObject(value: object, key: string): string {
    if (typeof (value as { toJSON?: unknown }).toJSON === "function") {
      const replaced: unknown = (value as { toJSON(key: string): unknown }).toJSON(key);
      if (typeof replaced === "object" && replaced !== null && "toJSON" in replaced) {
        // One level of toJSON, as JSON.stringify does; a result that has its
        // own toJSON would be encoded differently by other encoders.
        throw this.#refuse("toJSON() returned an object with its own toJSON");
      }
      return this.encode(replaced, key);
    }
    if (this.#open.includes(value)) throw this.#refuse("the value contains a cycle");
    this.#open.push(value);
    try {
      if (Array.isArray(value)) return this.#encodeArray(value);
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
        throw this.#refuse(`a ${typeof name === "string" ? name : "non-plain object"} is not JSON`);
      }
      return this.#encodeRecord(value as Record<string, unknown>);
    } finally {
      this.#open.pop();
    }
  }

  #encodeArray(value: readonly unknown[]): string {
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      this.#path.push(i);
      out += (i === 0 ? "" : ",") + this.encode(value[i], String(i));
      this.#path.pop();
    }
    return out + "]";
  }

  #encodeRecord(value: Record<string, unknown>): string {
    // The default sort compares UTF-16 code units, which is the canonical order.
    const keys = Object.keys(value).sort();
    let out = "{";
    let first = true;
    for (const key of keys) {
      const item = value[key];
      if (item === undefined) continue;
      this.#path.push(key);
      out += (first ? "" : ",") + JSON.stringify(key) + ":" + this.encode(item, key);
      this.#path.pop();
      first = false;
    }
    return out + "}";
  }

  #refuse(reason: string): TypeError {
    return new TypeError(`Cannot encode '${_formatPath(this.#path)}' as canonical JSON: ${reason}`);
  }
}

const _IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function _formatPath(path: readonly (string | number)[]): string {
  let out = "$";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else if (_IDENTIFIER.test(part)) out += `.${part}`;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out;
}
