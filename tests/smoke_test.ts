/**
 * `deno task smoke` as a user runs it: with no key it says so and exits 0;
 * with a key and a base URL it runs the whole task, here against a loopback
 * server playing OpenAI.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { startModelServer } from "./model_server.ts";
import { chatStream } from "./fixtures/openai_wire.ts";

const SMOKE = fileURLToPath(new URL("../examples/smoke.ts", import.meta.url));

async function runSmoke(env: Record<string, string>, args: string[] = []) {
  const base: Record<string, string> = {};
  for (const k of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME"]) {
    const v = Deno.env.get(k);
    if (v !== undefined) base[k] = v;
  }
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SMOKE, ...args],
    env: { ...base, NO_COLOR: "1", ...env },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("smoke: with no model key it says so and exits 0", async () => {
  const r = await runSmoke({});
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /^smoke: no model key is set \(OPENAI_API_KEY or ANTHROPIC_API_KEY\); nothing to run\./,
  );
});

Deno.test("smoke: with a key it summarizes the fixture into a report, gets the write approved, prints usage and audit", async () => {
  const call = (id: string, name: string, args: unknown) =>
    chatStream({ calls: [{ id, name, pieces: [JSON.stringify(args)] }], finish: "tool_calls" });
  await using server = startModelServer([
    call("call_1", "list_directory", { path: "." }),
    call("call_2", "read_text_file", { path: "src/calc.ts" }),
    call("call_3", "create_object", {
      name: "report",
      type: "report",
      payload: { title: "calc", body: "A calculator; div does not guard against zero." },
    }),
    call("call_4", "write_text_file", { path: "SUMMARY.md", text: "# calc\nA calculator.\n" }),
    call("call_5", "exit", { result: { report: "report" } }),
  ]);
  const key = "sk-smoke-0123456789abcdefghijklmnopqrstuvwxyz";
  const r = await runSmoke(
    { OPENAI_API_KEY: key, OPENAI_BASE_URL: `${server.url}/v1` },
    ["--auto-approve"],
  );
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.equal(server.requests.length, 5);
  assert.match(r.stdout, /\[human\] approved h_\d+/);
  assert.match(r.stdout, /report object: \{"title":"calc"/);
  assert.match(r.stdout, /SUMMARY\.md: 21 characters/);
  assert.match(
    r.stdout,
    /usage: 5 model turns, 5 tool calls, 250 input \+ 60 output tokens \(≈ \$0\.0001\)/,
  );
  assert.match(r.stdout, /audit: \d+ records/);
  assert.match(r.stdout, /audit chain: verified/);
  assert.match(r.stdout, /== smoke passed/);
  assert.ok(!r.stdout.includes(key) && !r.stderr.includes(key));
});
