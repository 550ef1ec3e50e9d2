/**
 * `libos mcp call`: the kernel's MCP client against one streamable HTTP
 * server, outside any process.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { McpSession } from "../mod.ts";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { safeLine } from "./terminal.ts";

/**
 * `libos mcp call`: the kernel's MCP client (the session every process's
 * calls go through) against one streamable HTTP server, outside any process:
 * connect, list the tools, call one. The MCP conformance suite drives it
 * (it appends the server's URL as the last argument).
 */
export async function mcpCall(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== "call") {
    console.error(safeLine`libos: mcp: unknown subcommand '${sub ?? ""}'; expected 'call'`);
    return 2;
  }
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      url: { type: "string" },
      tool: { type: "string" },
      args: { type: "string", default: "{}" },
      header: { type: "string", multiple: true, default: [] },
      "timeout-ms": { type: "string", default: "30000" },
    },
    allowPositionals: true,
    strict: true,
  });
  const url = values.url ?? positionals.at(-1);
  if (url === undefined || !URL.canParse(url)) {
    console.error(safeLine`libos: mcp call: --url must be an http(s) URL, got '${url ?? ""}'`);
    return 2;
  }
  let callArgs: Record<string, unknown>;
  try {
    callArgs = JSON.parse(values.args);
    if (callArgs === null || typeof callArgs !== "object" || Array.isArray(callArgs)) {
      throw new TypeError("not an object");
    }
  } catch {
    console.error(safeLine`libos: mcp call: --args must be a JSON object, got '${values.args}'`);
    return 2;
  }
  const headers: Record<string, string> = {};
  for (const h of values.header) {
    const i = h.indexOf(":");
    if (i <= 0) {
      console.error(safeLine`libos: mcp call: --header must be 'Name: value', got '${h}'`);
      return 2;
    }
    headers[h.slice(0, i).trim()] = h.slice(i + 1).trim();
  }
  const timeoutMs = Number(values["timeout-ms"]);
  await using session = new McpSession({
    server: "cli",
    connect: () =>
      Promise.resolve(
        new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }),
      ),
  });
  try {
    const tools = await session.tools({ timeoutMs });
    console.log(JSON.stringify({ tools: tools.map((t: { name: string }) => t.name) }));
    if (values.tool !== undefined) {
      const result = await session.call(values.tool, callArgs, { timeoutMs });
      console.log(JSON.stringify(result));
      if (result.isError === true) return 1;
    }
    return 0;
  } catch (error) {
    console.error(
      safeLine`libos: mcp call: ${error instanceof Error ? error.message : String(error)}`,
    );
    return 1;
  }
}
