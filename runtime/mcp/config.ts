/**
 * The operator's MCP configuration: which servers the kernel may connect
 * processes to, in the shape MCP clients already use (a JSONC file given with
 * `libos start --mcp FILE` or `LIBOS_MCP`):
 *
 * ```jsonc
 * {
 *   "mcpServers": {
 *     "files": {
 *       "command": "${DENO}", "args": ["run", "-A", "npm:@modelcontextprotocol/server-filesystem@2026.8.31", "."],
 *       "env": { "DENO_DIR": "${DENO_DIR}" },
 *       "readOnly": ["${DENO_DIR}"]
 *     },
 *     "remote": { "type": "http", "url": "http://127.0.0.1:3001/mcp", "headers": { "Authorization": "Bearer ${TOKEN}" } }
 *   }
 * }
 * ```
 *
 * A string value may name `${NAME}` of the kernel's environment; nothing else
 * of that environment reaches a server (a stdio server's environment is its
 * `env` only). `readOnly` lists host folders the server's own program needs
 * (its installed package), bound read-only in its sandbox. Each server has
 * `trustAnnotations: false` unless the file says otherwise: its tools'
 * `readOnlyHint`/`idempotentHint` are believed only then. A mistake is
 * reported like an image's: file, line, column, field, what was expected.
 *
 * @module
 */
import { z } from "zod";
import { isAbsolute } from "node:path";
import { libosError } from "../errors.ts";
import { type JsoncIssue, type JsoncLocate, parseJsoncAs } from "../images/image_loader.ts";

/** Default deadline of one MCP call: 60 s. */
export const DEFAULT_MCP_CALL_TIMEOUT_MS = 60_000;
/** Default most bytes of one MCP result (its JSON): 1 MiB. */
export const DEFAULT_MCP_MAX_RESULT_BYTES = 1024 * 1024;

const _common = {
  /** Believe the server's readOnlyHint/idempotentHint (default false). */
  trustAnnotations: z.boolean().default(false),
  /** Deadline of one call in ms (default 60,000). */
  callTimeoutMs: z.number().int().min(1).max(3_600_000).default(DEFAULT_MCP_CALL_TIMEOUT_MS),
  /** Most bytes of one result's JSON (default 1 MiB); a bigger result is refused. */
  maxResultBytes: z.number().int().min(1).max(64 * 1024 * 1024).default(
    DEFAULT_MCP_MAX_RESULT_BYTES,
  ),
};

/** A server the kernel starts, one per process that uses it, confined like a program. */
export const McpStdioServerSchema = z.strictObject({
  type: z.literal("stdio").optional(),
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()).default({}),
  /** Workspace-relative folder it starts in (default: the process's working directory). */
  cwd: z.string().optional(),
  /** Absolute host folders its program needs, bound read-only. */
  readOnly: z.array(z.string().min(1)).default([]),
  ..._common,
});

/** A server reached over streamable HTTP. */
export const McpHttpServerSchema = z.strictObject({
  type: z.literal("http"),
  url: z.url({ protocol: /^https?$/ }),
  headers: z.record(z.string(), z.string()).default({}),
  ..._common,
});

/** The name of a server: it becomes part of tool names and resources. */
export const McpServerNameSchema = z.string().regex(
  /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/,
  "a server name of letters, digits, _ - (no dot or slash)",
);

/** The file: `{"mcpServers": {"<name>": server}}`. */
export const McpConfigSchema = z.strictObject({
  mcpServers: z.record(McpServerNameSchema, z.union([McpStdioServerSchema, McpHttpServerSchema])),
});

/** A stdio server as configured (after `${NAME}` substitution). */
export type McpStdioServer = z.infer<typeof McpStdioServerSchema>;
/** An HTTP server as configured (after `${NAME}` substitution). */
export type McpHttpServer = z.infer<typeof McpHttpServerSchema>;
/** One configured server. */
export type McpServerConfig = McpStdioServer | McpHttpServer;
/** The validated configuration. */
export type McpConfig = z.infer<typeof McpConfigSchema>;

/** Options of {@linkcode parseMcpConfig}. */
export interface ParseMcpConfigOptions {
  /** The file the text came from, named in every error. */
  file: string;
  /** Where `${NAME}` is looked up (default: none, so any reference is an error). */
  env?: Record<string, string>;
}

const _REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * Parses and validates an MCP configuration written as JSONC, then replaces
 * each `${NAME}` with the variable from `env`. Throws `EINVAL` naming the
 * file, line and column of every mistake (an unknown variable too).
 */
export function parseMcpConfig(text: string, options: ParseMcpConfigOptions): McpConfig {
  const env = options.env ?? {};
  const config = parseJsoncAs(text, McpConfigSchema, {
    file: options.file,
    noun: "MCP config",
    semantic: (value, locate) => _semanticIssues(value, locate, env),
  });
  return _substitute(config, env) as McpConfig;
}

/** Reads and parses an MCP configuration file (see {@linkcode parseMcpConfig}). */
export async function loadMcpConfig(
  path: string,
  env: Record<string, string> = Deno.env.toObject(),
): Promise<McpConfig> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    const code = error instanceof Deno.errors.NotFound ? "ENOENT" : "EINVAL";
    throw libosError(
      code,
      `Cannot load MCP config '${path}': ${
        code === "ENOENT" ? "no such file" : (error as Error).message
      }`,
      { file: path },
      error,
    );
  }
  return parseMcpConfig(text, { file: path, env });
}

/** Unknown `${NAME}` references and relative `readOnly` folders, located. */
function _semanticIssues(
  value: unknown,
  locate: JsoncLocate,
  env: Record<string, string>,
): JsoncIssue[] {
  const out: JsoncIssue[] = [];
  const walk = (v: unknown, path: PropertyKey[]) => {
    if (typeof v === "string") {
      for (const m of v.matchAll(_REF)) {
        if (!Object.hasOwn(env, m[1]!)) {
          out.push({
            field: _field(path),
            message: `\${${m[1]}} is not set in the kernel's environment`,
            offset: locate(path, "value"),
          });
        }
      }
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
    else if (v !== null && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
    }
  };
  walk(value, []);
  const servers = (value as { mcpServers?: unknown } | null)?.mcpServers;
  if (servers !== null && typeof servers === "object") {
    for (const [name, server] of Object.entries(servers as Record<string, unknown>)) {
      const folders = (server as { readOnly?: unknown } | null)?.readOnly;
      if (!Array.isArray(folders)) continue;
      folders.forEach((f, i) => {
        if (typeof f === "string" && !isAbsolute(f.replace(_REF, "/"))) {
          const path = ["mcpServers", name, "readOnly", i];
          out.push({
            field: _field(path),
            message: `expected an absolute host path, got '${f}'`,
            offset: locate(path, "value"),
          });
        }
      });
    }
  }
  return out;
}

function _field(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    out += typeof p === "number" ? `[${p}]` : out === "" ? String(p) : `.${String(p)}`;
  }
  return out === "" ? "(root)" : out;
}

function _substitute(v: unknown, env: Record<string, string>): unknown {
  if (typeof v === "string") return v.replace(_REF, (_, name: string) => env[name] ?? "");
  if (Array.isArray(v)) return v.map((x) => _substitute(x, env));
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, _substitute(x, env)]));
  }
  return v;
}
