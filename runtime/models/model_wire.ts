/**
 * What every provider's wire mapping shares: one JSON text per value, so that
 * the context a provider sends is a stable prefix of the next turn's (prompt
 * caching), and tool schemas in the form servers take.
 *
 * @module
 */
import { canonicalJson } from "../audit/canonical_json.ts";

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
