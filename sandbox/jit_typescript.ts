/**
 * The TypeScript compiler API, loaded once and only when a JIT proposal first
 * needs it (npm `typescript`, pinned in deno.json to the version Deno 2.9.6
 * embeds, 6.0.3): loading it takes about 0.3 s, which a kernel that never
 * sees a proposal should not pay at start.
 *
 * @module
 */
import type TypeScript from "typescript";

/** The compiler API module. */
export type TypeScriptApi = typeof TypeScript;

let _loading: Promise<TypeScriptApi> | null = null;

/** The compiler API, imported on first use. */
export function loadTypeScript(): Promise<TypeScriptApi> {
  _loading ??= import("typescript").then((mod) => mod.default as TypeScriptApi);
  return _loading;
}
