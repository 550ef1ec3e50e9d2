// deno-lint-ignore-file no-control-regex -- the tests look for control characters on purpose
/**
 * `libos start` prints what processes, images, models and humans say only
 * escaped: no text of theirs can recolor the terminal, retitle it, move the
 * cursor back over a line, reorder what is read, or start a line that looks
 * like the kernel's own (issue 19, item 5).
 */
import assert from "node:assert/strict";
import { join } from "node:path";

import { MAIN, withTemp } from "./cli_kit.ts";
import { startModelServer } from "./model_server.ts";

/** Every kind of acting character the red team used, and a forged kernel line. */
const HOSTILE = "\x1b[31m\x1b]0;title\x07\r\nh_1 approved\x1b[0m\u202e\u2066\u2067\u2068\u2069\x00";

/** What the terminal must never receive: ESC, CR, NUL, C1 controls, bidi controls. */
const RAW = /[\x00\x0d\x1b\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

/** Asserts the captured output holds no acting character and no forged line. */
function assertEscaped(output: string): void {
  const raw = RAW.exec(output);
  assert.equal(raw, null, `raw U+${raw?.[0].codePointAt(0)?.toString(16)} in:\n${output}`);
  for (const line of output.split("\n")) {
    assert.doesNotMatch(line, /^\s*(libos: )?h_1 approved/, `forged line in:\n${output}`);
  }
}

/** `libos start` on `dir`, its standard input piped, with no color. */
function start(dir: string, args: string[], env: Record<string, string> = {}): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "start", "--data", "d", "--workspace", ".", "--port", "0", ...args],
    cwd: dir,
    env: { NO_COLOR: "1", ...env },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).spawn();
}

/** Reads `stream` to its end, calling `onText` with all text so far after each piece. */
async function readAll(
  stream: ReadableStream<Uint8Array>,
  onText: (seen: string) => Promise<void> = () => Promise.resolve(),
): Promise<string> {
  let seen = "";
  for await (const piece of stream.pipeThrough(new TextDecoderStream())) {
    seen += piece;
    await onText(seen);
  }
  return seen;
}

Deno.test("libos start escapes the goal, names, preview, tool errors and result a process controls", async () => {
  await withTemp("libos-escape-", async (dir) => {
    const image = {
      id: "hostile",
      name: `name${HOSTILE}`,
      version: `1.0${HOSTILE}`,
      description: `goal${HOSTILE}`,
      model: {
        provider: "scripted",
        steps: [
          // An ask grant: the write waits for a human, its content in the preview.
          { tool: "write_text_file", args: { path: "deploy/x.txt", text: `preview${HOSTILE}` } },
          // Tool errors that echo what the model sent.
          { tool: `no_such_tool${HOSTILE}`, args: {} },
          { tool: "read_text_file", args: { path: `missing${HOSTILE}` } },
          { tool: "exit", args: { result: { said: `result${HOSTILE}` } } },
        ],
      },
      tools: ["write_text_file", "read_text_file", "exit"],
      capabilities: [
        { resource: "fs:deploy/**", rights: ["write"], effect: "ask" },
        { resource: "fs:**", rights: ["read"] },
      ],
      budgets: { steps: 10, toolCalls: 10 },
    };
    await Deno.writeTextFile(join(dir, "hostile.json"), JSON.stringify(image));
    const child = start(dir, ["--image", "hostile.json", "--once", "--no-sandbox"]);
    const writer = child.stdin.getWriter();
    let answered = false;
    const [stdout, stderr] = await Promise.all([
      readAll(child.stdout, async (seen) => {
        if (answered || !/\[human\] h_1 .*\n(.*\n)*\s+answer with:/.test(seen)) return;
        answered = true;
        // A human's line echoed back by the terminal is process-controlled too.
        await writer.write(new TextEncoder().encode(`nonsense h_1${HOSTILE}\ndeny h_1\n`));
      }),
      readAll(child.stderr),
    ]);
    await writer.close().catch(() => {});
    const status = await child.status;
    const output = stdout + stderr;
    assert.equal(status.code, 0, output);
    assert.ok(answered, output);
    assertEscaped(output);
    // Each field was printed, escaped.
    assert.match(stdout, /libos: spawned p_1 from hostile@1\.0\\u\{1b\}/);
    assert.match(stdout, /│ preview\\u\{1b\}\\u\{1b\}\\u\{d\}$/m);
    assert.match(stdout, /got 'nonsense h_1\\u\{1b\}/);
    assert.match(stdout, /libos: h_1 denied/);
    // The result is printed as JSON, whose own escapes cover the C0 controls.
    assert.match(stdout, /p_1 running → exited result \{"said":"result\\u001b\[31m.*\\u\{202e\}/);
  });
});

Deno.test("libos start escapes a model server's error message in the failure reason", async () => {
  await using server = startModelServer([{
    status: 400,
    json: { error: { message: `bad request${HOSTILE}`, type: "invalid_request_error" } },
  }]);
  await withTemp("libos-escape-", async (dir) => {
    const image = {
      id: "remote",
      name: "Remote",
      version: "1.0.0",
      description: "Asks a model that fails.",
      model: { provider: "openai", name: "m", options: { stream: false } },
      tools: ["exit"],
      capabilities: [{ resource: "model:openai/m", rights: ["call"] }],
      budgets: { steps: 3, toolCalls: 3 },
    };
    await Deno.writeTextFile(join(dir, "remote.json"), JSON.stringify(image));
    const child = start(dir, ["--image", "remote.json", "--once", "--no-sandbox"], {
      OPENAI_API_KEY: "sk-test-0123456789abcdefghijklmnop",
      OPENAI_BASE_URL: `${server.url}/v1`,
    });
    await child.stdin.close();
    const [stdout, stderr] = await Promise.all([readAll(child.stdout), readAll(child.stderr)]);
    const status = await child.status;
    const output = stdout + stderr;
    assert.equal(status.code, 1, output);
    assertEscaped(output);
    assert.match(
      stdout,
      /p_1 .*→ failed \(.*bad request\\u\{1b\}\\u\{1b\}\\u\{d\}\\u\{a\}h_1 approved/,
    );
  });
});
