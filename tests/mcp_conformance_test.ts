/**
 * The official MCP conformance suite (`@modelcontextprotocol/conformance`,
 * pinned below and in deno.json / deno.lock) run against `/mcp` of an
 * in-process control plane served on a loopback port. The suite sends no
 * credentials, so the plane is served through a front, in this process, that
 * adds a viewer token's `Authorization` header to each request and passes
 * everything else (Host, Origin, body) through unchanged.
 */
import assert from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";
import { bootPlane } from "./api_helpers.ts";

/** The suite, pinned (deno.json's imports and deno.lock hold the same version). */
const CONFORMANCE = "npm:@modelcontextprotocol/conformance@0.1.16";

/** Scenarios that must pass; the rest of the active suite is the baseline file's. */
const REQUIRED = [
  "server-initialize",
  "ping",
  "tools-list",
  "resources-list",
  "dns-rebinding-protection",
];

const ROOT = fromFileUrl(new URL("..", import.meta.url));
const BASELINE = fromFileUrl(new URL("fixtures/mcp_conformance_baseline.yaml", import.meta.url));

Deno.test("the MCP conformance suite's server scenarios pass against /mcp (those that do not apply are its baseline)", async () => {
  await using t = await bootPlane();
  const token = await t.tokenFor("viewer", "conformance");
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const headers = new Headers(req.headers);
    headers.set("authorization", `Bearer ${token}`);
    return t.plane.fetch(new Request(req, { headers }));
  });
  const out = await Deno.makeTempDir({ prefix: "libos-mcp-conformance-" });
  try {
    const run = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--frozen",
        "-A",
        CONFORMANCE,
        "server",
        "--url",
        `http://127.0.0.1:${server.addr.port}/mcp`,
        "--expected-failures",
        BASELINE,
        "-o",
        out,
      ],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(240_000),
    }).output();
    const text = new TextDecoder().decode(run.stdout) + new TextDecoder().decode(run.stderr);
    assert.equal(run.code, 0, `the suite failed outside its baseline:\n${text.slice(-4000)}`);
    const results = new Map<string, { id: string; status: string }[]>();
    for await (const entry of Deno.readDir(out)) {
      const m = /^server-(.+)-\d{4}-\d\d-\d\dT[\d-]+Z$/.exec(entry.name);
      if (m === null) continue;
      results.set(m[1]!, JSON.parse(await Deno.readTextFile(`${out}/${entry.name}/checks.json`)));
    }
    for (const scenario of REQUIRED) {
      const checks = results.get(scenario);
      assert.ok(checks !== undefined && checks.length > 0, `${scenario} ran`);
      assert.deepEqual(
        checks.map((c) => `${c.id}: ${c.status}`),
        checks.map((c) => `${c.id}: SUCCESS`),
        scenario,
      );
    }
    assert.ok(results.size >= 30, `only ${results.size} scenarios ran`);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
