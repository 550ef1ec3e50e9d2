/**
 * The arguments of a tool call as a model wrote them. A model may write
 * arguments that are not JSON, or JSON that is not an object (a truncated
 * stream, a small local model). Such a call is not dropped and does not fail
 * the turn: it is handed to the kernel as `{ __malformed: "<raw text>" }`, so
 * that dispatch answers the model with a failed tool result that quotes what
 * it wrote and asks it to repair the call ({@linkcode malformedCallResult}).
 * That answer is the model's one repair turn.
 *
 * @module
 */
import type { ToolResult } from "../types.ts";

/** The key that marks arguments that were not a JSON object. */
export const MALFORMED_KEY = "__malformed";

/** Arguments a model wrote that were not a JSON object: the raw text, as it came. */
export interface MalformedArgs {
  [MALFORMED_KEY]: string;
}

/** The longest raw text kept in a malformed marker (and quoted back to the model). */
const _MAX_RAW = 2000;

/**
 * Parses a tool call's argument text: a JSON object is returned as it is, an
 * empty text is `{}`, and anything else is a {@linkcode MalformedArgs} marker.
 */
export function parseToolArgs(raw: string): Record<string, unknown> | MalformedArgs {
  if (raw.trim() === "") return {};
  try {
    const value: unknown = JSON.parse(raw);
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      return value as Record<string, unknown>;
    }
  } catch {
    // falls through to the marker
  }
  return { [MALFORMED_KEY]: raw.length > _MAX_RAW ? raw.slice(0, _MAX_RAW) : raw };
}

/** Whether `args` is a {@linkcode MalformedArgs} marker. */
export function isMalformedArgs(args: unknown): args is MalformedArgs {
  return args !== null && typeof args === "object" && !Array.isArray(args) &&
    typeof (args as Record<string, unknown>)[MALFORMED_KEY] === "string";
}

/**
 * The failed tool result for a malformed call: code `EINVAL`, the raw text
 * quoted (JSON-escaped, so no control character reaches a log), and the
 * repair hint. Dispatch returns it instead of validating the arguments, since
 * a tool whose fields are all optional would accept the marker object.
 */
export function malformedCallResult(name: string, args: MalformedArgs): ToolResult {
  return {
    ok: false,
    error: {
      code: "EINVAL",
      message: `Cannot call tool '${name}': its arguments are not a JSON object: ${
        JSON.stringify(args[MALFORMED_KEY])
      }. Repair: call '${name}' again with arguments that are one JSON object matching its schema.`,
    },
  };
}
