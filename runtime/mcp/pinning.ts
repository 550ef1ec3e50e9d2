/**
 * Pinned MCP tool definitions: what of a tool is pinned (its name,
 * description, input and output schema and annotations), its hash, and the
 * diff an operator is shown when a server changes it. The first time a
 * process's tool table is built from a server each tool is pinned; a later
 * `tools/list` that shows another definition does not change what the
 * process may call until an operator approves the new one.
 *
 * @module
 */
import { canonicalJson, sha256Hex } from "../audit/canonical_json.ts";
import type { McpPin } from "../types.ts";

/** A tool as `tools/list` describes it (the fields that are pinned, and others). */
export interface McpToolDescription {
  name: string;
  description?: string | undefined;
  inputSchema: Record<string, unknown>;
  outputSchema?: Record<string, unknown> | undefined;
  annotations?: Record<string, unknown> | undefined;
  [key: string]: unknown;
}

/** The pinned part of a tool's definition, every field present (null when absent). */
export function pinnedDefinition(tool: McpToolDescription): Record<string, unknown> {
  return {
    name: tool.name,
    description: tool.description ?? null,
    inputSchema: tool.inputSchema ?? null,
    outputSchema: tool.outputSchema ?? null,
    annotations: tool.annotations ?? null,
  };
}

/** The pin of a tool: `sha256:<hex>` of the canonical JSON of its pinned definition. */
export function pinOf(tool: McpToolDescription): McpPin {
  const definition = pinnedDefinition(tool);
  return { hash: `sha256:${sha256Hex(canonicalJson(definition))}`, definition };
}

/**
 * What changed between two pinned definitions, one line per field that
 * differs (`- field: old` / `+ field: new`), for a human to read.
 */
export function diffDefinitions(
  before: Record<string, unknown>,
  after: Record<string, unknown>,
): string {
  const lines: string[] = [];
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  for (const key of keys) {
    const a = canonicalJson(before[key] ?? null);
    const b = canonicalJson(after[key] ?? null);
    if (a === b) continue;
    lines.push(`- ${key}: ${a}`, `+ ${key}: ${b}`);
  }
  return lines.join("\n");
}

/**
 * Whether a call of this tool may be redone after a crash: only when the
 * operator trusts the server's annotations and they say the tool is
 * read-only or idempotent.
 */
export function idempotentByAnnotations(pin: McpPin | undefined, trusted: boolean): boolean {
  if (!trusted || pin === undefined) return false;
  const a = pin.definition["annotations"];
  if (a === null || typeof a !== "object") return false;
  const hints = a as Record<string, unknown>;
  return hints["readOnlyHint"] === true || hints["idempotentHint"] === true;
}
