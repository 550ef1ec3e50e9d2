/**
 * The built-in tools: one file each, in exactly the `defineTool` format users
 * write. This module only names the folder and its files; it never imports a
 * tool (tools run only inside the sandbox).
 *
 * @example
 * ```ts
 * import { BUILTIN_TOOL_FILES, builtinToolsDir } from "./mod.ts";
 * console.log(builtinToolsDir, BUILTIN_TOOL_FILES);
 * ```
 *
 * @module
 */
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

/** The absolute path of this folder. */
export const builtinToolsDir: string = dirname(fileURLToPath(import.meta.url));

/** The tool files of this folder. */
export const BUILTIN_TOOL_FILES: readonly string[] = ["count_lines.ts", "parse_log.ts"];
