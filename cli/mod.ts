/**
 * The `libos` command line's commands, one file per family; `main.ts` is
 * the door that picks one.
 *
 * @example
 * ```ts
 * import { parseDuration } from "./mod.ts";
 * parseDuration("24h"); // 86_400_000
 * ```
 *
 * @module
 */
export { errorLines, safeLine } from "./terminal.ts";
export { parseDuration } from "./flags.ts";
export { image } from "./image.ts";
export { mcpCall } from "./mcp_call.ts";
export { remote } from "./remote.ts";
export { start } from "./start.ts";
export { verify } from "./verify.ts";
