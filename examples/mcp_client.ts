/**
 * An MCP client of a running kernel: lists the tools its token may call,
 * then the processes, with the official SDK over `/mcp`.
 *
 * ```sh
 * LIBOS_URL=http://127.0.0.1:8787 LIBOS_TOKEN=<a token> deno run -A examples/mcp_client.ts
 * ```
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/streamableHttp"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const url = new URL("/mcp", Deno.env.get("LIBOS_URL") ?? "http://127.0.0.1:8787");
const token = Deno.env.get("LIBOS_TOKEN") ?? Deno.env.get("LIBOS_ADMIN_TOKEN");
if (token === undefined) {
  console.error("mcp_client: set LIBOS_TOKEN (or LIBOS_ADMIN_TOKEN) to a control-plane token");
  Deno.exit(2);
}
const client = new Client({ name: "libos-example", version: "1.0.0" });
await client.connect(
  new StreamableHTTPClientTransport(url, {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  }),
);
try {
  const { tools } = await client.listTools();
  console.log(`tools: ${tools.map((t) => t.name).join(", ")}`);
  const listed = await client.callTool({ name: "list_processes", arguments: {} });
  const { processes } = listed.structuredContent as { processes: { pid: string; state: string }[] };
  console.log(`processes: ${processes.map((p) => `${p.pid} ${p.state}`).join(", ") || "(none)"}`);
} finally {
  await client.close();
}
