/**
 * What every provider's wire mapping shares: one JSON text per value, so that
 * the context a provider sends is a stable prefix of the next turn's (prompt
 * caching), tool schemas in the form servers take, and tool names in the form
 * vendors take (`<server>.<tool>` has a dot, which neither OpenAI nor
 * Anthropic accepts), mapped back on the calls the model returns.
 *
 * @module
 */
import { canonicalJson, sha256Hex } from "../audit/canonical_json.ts";
import type { ContextMessage, ModelRequest, ModelResponse, ToolSpec } from "./model_provider.ts";

/**
 * One JSON text for one value (canonical where it can be), so that a
 * re-materialized context serializes to the same bytes as the live one.
 */
export function stableJson(value: unknown): string {
  try {
    return canonicalJson(value);
  } catch {
    return JSON.stringify(value) ?? "null";
  }
}

/** A tool's JSON Schema as servers take it: without the `$schema` dialect tag. */
export function wireSchema(schema: Record<string, unknown>): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = schema;
  return rest;
}

/** Vendors' tool-name patterns: OpenAI's `^[a-zA-Z0-9_-]{1,64}$`, Anthropic's `{1,128}`. */
export const WIRE_NAME_MAX = { openai: 64, anthropic: 128 } as const;

const _SAFE = /[A-Za-z0-9-]/;

/**
 * A kernel tool name as vendors accept it (`[A-Za-z0-9_-]`), reversibly:
 * each maximal run of characters other than `[A-Za-z0-9-]` becomes, when it
 * is one `_`, itself; one `.`, `__`; anything else, `___<hex of its UTF-8>___`.
 * So `read_text_file` stays as it is, `everything.get-sum` is
 * `everything__get-sum`, and a literal `a__b` is `a___5f5f___b`: no two names
 * share an encoding ({@linkcode decodeToolName} inverts it).
 */
export function encodeToolName(name: string): string {
  let out = "";
  let run = "";
  const flush = () => {
    if (run === "_") out += "_";
    else if (run === ".") out += "__";
    else if (run !== "") {
      out += `___${
        [...new TextEncoder().encode(run)].map((b) => b.toString(16).padStart(2, "0")).join("")
      }___`;
    }
    run = "";
  };
  for (const ch of name) {
    if (_SAFE.test(ch)) {
      flush();
      out += ch;
    } else run += ch;
  }
  flush();
  return out;
}

/**
 * The kernel tool name of an encoded one ({@linkcode encodeToolName}'s
 * inverse), or null when `wire` is no encoding of any name.
 */
export function decodeToolName(wire: string): string | null {
  let out = "";
  let i = 0;
  while (i < wire.length) {
    const ch = wire[i]!;
    if (ch !== "_") {
      if (!_SAFE.test(ch)) return null;
      out += ch;
      i++;
      continue;
    }
    let n = 0;
    while (wire[i + n] === "_") n++;
    if (n === 1) out += "_";
    else if (n === 2) out += ".";
    else if (n === 3) {
      const end = wire.indexOf("___", i + 3);
      const hex = end < 0 ? "" : wire.slice(i + 3, end);
      if (hex === "" || !/^(?:[0-9a-f]{2})+$/.test(hex) || wire[end + 3] === "_") return null;
      const bytes = new Uint8Array(hex.match(/../g)!.map((h) => parseInt(h, 16)));
      const run = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
      if (run === "_" || run === "." || [...run].some((c) => _SAFE.test(c))) return null;
      out += run;
      i = end + 3;
      continue;
    } else return null;
    i += n;
  }
  return out;
}

/**
 * The tool names of one request on one vendor's wire: each kernel name
 * encoded ({@linkcode encodeToolName}); one whose encoding is longer than the
 * vendor allows is cut and given a hash of the whole name, which only this
 * request's table maps back. Calls the model returns are mapped back with
 * {@linkcode WireNames.fromWire}; a name it invented passes through decoded
 * (or as it came), so the kernel refuses it as an unknown tool.
 */
export class WireNames {
  readonly #max: number;
  readonly #back = new Map<string, string>();

  constructor(names: Iterable<string>, max: number) {
    this.#max = max;
    for (const name of names) {
      const wire = this.toWire(name);
      const other = this.#back.get(wire);
      if (other !== undefined && other !== name) {
        throw new RangeError(`Cannot name tools '${other}' and '${name}' apart on the wire`);
      }
      this.#back.set(wire, name);
    }
  }

  /** The name the vendor is shown for a kernel tool name. */
  toWire(name: string): string {
    const wire = encodeToolName(name);
    if (wire.length <= this.#max && wire !== "") return wire;
    const hash = sha256Hex(name).slice(0, 16);
    return `${wire.slice(0, this.#max - hash.length - 1)}-${hash}`;
  }

  /** The kernel tool name of a name the vendor returned. */
  fromWire(wire: string): string {
    return this.#back.get(wire) ?? decodeToolName(wire) ?? wire;
  }

  /** A response's calls with kernel tool names. */
  fromWireCalls(calls: ModelResponse["calls"]): ModelResponse["calls"] {
    return calls.map((c) => ({ ...c, name: this.fromWire(c.name) }));
  }
}

/**
 * A request's tools and context as a vendor is sent them: every tool name
 * (of the tool table and of earlier calls) in wire form, with the map back
 * for the calls the model returns. `max` is the vendor's longest name
 * ({@linkcode WIRE_NAME_MAX}).
 */
export function wireNamed(
  request: Pick<ModelRequest, "tools" | "messages">,
  max: number,
): { names: WireNames; tools: ToolSpec[]; messages: ContextMessage[] } {
  const names = new WireNames(request.tools.map((t) => t.name), max);
  return {
    names,
    tools: request.tools.map((t) => ({ ...t, name: names.toWire(t.name) })),
    messages: request.messages.map((m) =>
      m.role === "assistant"
        ? { ...m, calls: m.calls.map((c) => ({ ...c, name: names.toWire(c.name) })) }
        : m.role === "tool"
        ? { ...m, name: names.toWire(m.name) }
        : m
    ),
  };
}
