import assert from "node:assert/strict";
import { parseMcpConfig } from "./config.ts";

Deno.test("parseMcpConfig: a server of each kind, ${NAME} from the given environment only, trustAnnotations false by default", () => {
  const text = `{
  // comments are allowed
  "mcpServers": {
    "files": { "command": "\${DENO}", "args": ["run", "x"], "env": { "K": "\${KEY}" }, "readOnly": ["/opt/x"] },
    "remote": { "type": "http", "url": "http://127.0.0.1:3001/mcp", "headers": { "Authorization": "Bearer \${KEY}" } },
  },
}`;
  const c = parseMcpConfig(text, { file: "mcp.jsonc", env: { DENO: "/bin/deno", KEY: "k1" } });
  const files = c.mcpServers["files"]!;
  assert.ok(files.type !== "http");
  assert.equal(files.command, "/bin/deno");
  assert.deepEqual(files.env, { K: "k1" });
  assert.equal(files.trustAnnotations, false);
  const remote = c.mcpServers["remote"]!;
  assert.ok(remote.type === "http");
  assert.deepEqual(remote.headers, { Authorization: "Bearer k1" });
});

Deno.test("parseMcpConfig: mistakes are reported with file:line:column and what was expected", () => {
  const text = `{
  "mcpServers": {
    "a.b": { "command": "x" },
    "ok": { "command": 5 },
    "env": { "command": "\${MISSING}", "readOnly": ["relative/dir"] }
  }
}`;
  assert.throws(
    () => parseMcpConfig(text, { file: "mcp.jsonc", env: {} }),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, "EINVAL");
      assert.match(
        e.message,
        /^Cannot load MCP config 'mcp.jsonc': 3:12 mcpServers\["a\.b"\]: invalid key/,
      );
      assert.match(e.message, /4:24 mcpServers\.ok\.command: expected string/);
      assert.match(e.message, /5:25 mcpServers\.env\.command: \$\{MISSING\} is not set/);
      assert.match(
        e.message,
        /5:52 mcpServers\.env\.readOnly\[0\]: expected an absolute host path/,
      );
      return true;
    },
  );
});
