/**
 * Values as the journal keeps them: JSON-safe, with bytes as `{$bytes: base64}`.
 *
 * @module
 */

const _utf8 = new TextDecoder("utf-8", { fatal: true });

/** Bytes as UTF-8 text, or null when they are not valid UTF-8. */
export function utf8OrNull(bytes: Uint8Array): string | null {
  try {
    return _utf8.decode(bytes);
  } catch {
    return null;
  }
}

/** Base64 of bytes. */
export function b64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** Bytes of base64. */
export function unb64(text: string): Uint8Array {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** Makes a value JSON-safe for the journal (bytes become `{$bytes: base64}`). */
export function jsonSafe(value: unknown): unknown {
  if (value instanceof Uint8Array) return { $bytes: b64(value) };
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = jsonSafe(v);
    return out;
  }
  return value;
}

/** The inverse of {@linkcode jsonSafe}. */
export function fromJsonSafe(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromJsonSafe);
  if (value !== null && typeof value === "object") {
    const rec = value as Record<string, unknown>;
    if (typeof rec["$bytes"] === "string" && Object.keys(rec).length === 1) {
      return unb64(rec["$bytes"]);
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(rec)) out[k] = fromJsonSafe(v);
    return out;
  }
  return value;
}

/** The strings of a journaled list (anything else is dropped). */
export function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((x): x is string => typeof x === "string") : [];
}
