/**
 * The MCP SDK's client side, loaded on first use: a kernel that talks to no
 * MCP server never loads it (with its schemas, about 20 MiB of a kernel's
 * memory). Everything here is loaded together, once.
 *
 * @module
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { ReadBuffer, serializeMessage } from "@modelcontextprotocol/sdk/shared/stdio.js";
import type {
  ErrorCode,
  McpError,
  ToolListChangedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import type { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv";

/** The parts of the SDK the client side uses. */
export interface McpSdk {
  Client: typeof Client;
  StreamableHTTPClientTransport: typeof StreamableHTTPClientTransport;
  ReadBuffer: typeof ReadBuffer;
  serializeMessage: typeof serializeMessage;
  ErrorCode: typeof ErrorCode;
  McpError: typeof McpError;
  ToolListChangedNotificationSchema: typeof ToolListChangedNotificationSchema;
  /** One validator of input schemas, shared. */
  validator: AjvJsonSchemaValidator;
}

let _loading: Promise<McpSdk> | null = null;

/** The SDK, loading it the first time. */
export function mcpSdk(): Promise<McpSdk> {
  _loading ??= (async () => {
    const [client, http, stdio, types, ajv] = await Promise.all([
      import("@modelcontextprotocol/sdk/client/index.js"),
      import("@modelcontextprotocol/sdk/client/streamableHttp.js"),
      import("@modelcontextprotocol/sdk/shared/stdio.js"),
      import("@modelcontextprotocol/sdk/types.js"),
      import("@modelcontextprotocol/sdk/validation/ajv"),
    ]);
    return {
      Client: client.Client,
      StreamableHTTPClientTransport: http.StreamableHTTPClientTransport,
      ReadBuffer: stdio.ReadBuffer,
      serializeMessage: stdio.serializeMessage,
      ErrorCode: types.ErrorCode,
      McpError: types.McpError,
      ToolListChangedNotificationSchema: types.ToolListChangedNotificationSchema,
      validator: new ajv.AjvJsonSchemaValidator(),
    };
  })();
  return _loading;
}
