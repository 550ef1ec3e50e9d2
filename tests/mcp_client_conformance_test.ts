/**
 * The official MCP conformance suite (`@modelcontextprotocol/conformance`,
 * npm, pinned) drives the kernel's MCP client through `libos mcp call` in
 * the CLIENT scenarios that apply to it: `initialize`, `tools_call` and
 * `sse-retry`. (The others test OAuth flows, elicitation and sampling —
 * which the kernel refuses by design — or server features.)
 *
 * @module
 */
import assert from "node:assert/strict";

const DENO = Deno.execPath();
const ROOT = new URL("../", import.meta.url).pathname;
const SUITE = "npm:@modelcontextprotocol/conformance@0.1.16";

const SCENARIOS: Record<string, string> = {
  initialize: "",
  tools_call: `--tool add_numbers --args '{"a":5,"b":3}'`,
  "sse-retry": "--tool test_reconnection",
};

for (const [scenario, args] of Object.entries(SCENARIOS)) {
  Deno.test(`MCP conformance, client scenario ${scenario}: the kernel's client passes`, async () => {
    const client = `${DENO} run -A ${ROOT}main.ts mcp call ${args} --url`;
    const out = await new Deno.Command(DENO, {
      args: ["run", "-A", SUITE, "client", "--command", client, "--scenario", scenario],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, text.slice(-3000));
    assert.match(text, /OVERALL: PASSED/);
    assert.doesNotMatch(text, /FAILURE/);
  });
}
