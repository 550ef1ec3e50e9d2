/**
 * Two kernels on one machine hand a process from one to the other, as a user
 * does it from the README: checkpoint, export, import, over the CLI and API.
 */
import assert from "node:assert/strict";
import { join } from "node:path";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const dec = new TextDecoder();

interface Running {
  url: string;
  token: string;
  child: Deno.ChildProcess;
  stop(): Promise<string>;
}

async function startKernel(dir: string, name: string): Promise<Running> {
  const token = `${name}-token-${crypto.randomUUID()}`;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "start",
      "--data",
      join(dir, name),
      "--workspace",
      dir,
      "--port",
      "0",
      "--no-sandbox",
    ],
    env: { LIBOS_ADMIN_TOKEN: token },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  for (let i = 0; i < 200 && !/API on (http:\/\/\S+) /.test(seen); i++) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
  }
  const url = /API on (http:\/\/\S+) /.exec(seen)?.[1];
  if (url === undefined) throw new Error(`kernel ${name} did not come up: ${seen}`);
  const rest = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return seen;
      seen += value;
    }
  })();
  return {
    url,
    token,
    child,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await child.stderr.cancel();
      return await rest;
    },
  };
}

async function cli(k: Running, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args, "--url", k.url, "--token", k.token],
    stdin: "null",
  }).output();
  const text = dec.decode(out.stdout);
  assert.equal(out.code, 0, `libos ${args.join(" ")}: ${text}${dec.decode(out.stderr)}`);
  return text;
}

Deno.test("libos checkpoint / export / import moves a waiting process to a second kernel, which finishes it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "libos-handoff-" });
  const a = await startKernel(dir, "a");
  const b = await startKernel(dir, "b");
  try {
    const image = join(dir, "traveller.jsonc");
    await Deno.writeTextFile(
      image,
      JSON.stringify({
        id: "traveller",
        name: "traveller",
        version: "1",
        model: {
          provider: "scripted",
          steps: [
            {
              tool: "create_object",
              args: { name: "luggage", type: "note", payload: { text: "packed" } },
            },
            { tool: "ask_human", args: { question: "where to?" } },
            {
              tool: "exit",
              args: { result: { arrived: { $ref: "steps[1].result.value.answer" } } },
            },
          ],
        },
        tools: ["create_object", "ask_human", "exit"],
        capabilities: [{ resource: "human:operator", rights: ["ask"] }],
      }),
    );
    assert.match(await cli(a, "spawn", "--image", image, "--goal", "travel"), /spawned p_1/);
    const deadline = Date.now() + 10_000;
    while (!(await cli(a, "ps")).includes("waiting") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const ck = /^(ck_\d+)/m.exec(await cli(a, "checkpoint", "p_1", "--reason", "moving"))?.[1];
    assert.ok(ck);
    const bundle = join(dir, "p_1.bundle");
    await cli(a, "export", ck, "--out", bundle);
    const moved = /p_1 → (p_\d+)/.exec(await cli(b, "import", bundle))?.[1];
    assert.ok(moved);
    // On b, the process asks again (its request was a's); answer it there.
    let id: string | undefined;
    let digest: string | undefined;
    for (let i = 0; i < 100 && id === undefined; i++) {
      const res = await fetch(`${b.url}/v1/human?state=pending`, {
        headers: { authorization: `Bearer ${b.token}` },
      });
      const first = ((await res.json()) as { requests: { id: string; previewSha256: string }[] })
        .requests[0];
      id = first?.id;
      digest = first?.previewSha256;
      if (id === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(id);
    await fetch(`${b.url}/v1/human/${id}`, {
      method: "POST",
      headers: { authorization: `Bearer ${b.token}`, "content-type": "application/json" },
      body: JSON.stringify({ decision: "answer", answer: "kernel b", previewSha256: digest }),
    }).then((r) => r.body?.cancel());
    const res = await fetch(`${b.url}/v1/processes/${moved}/wait?timeoutMs=10000&until=terminal`, {
      headers: { authorization: `Bearer ${b.token}` },
    });
    const done = ((await res.json()) as { process: { state: string; result: unknown } }).process;
    assert.equal(done.state, "exited");
    assert.deepEqual(done.result, { arrived: "kernel b" });
    assert.match(await cli(a, "audit", "verify"), /audit chain ok/);
    assert.match(await cli(b, "audit", "verify"), /audit chain ok/);
  } finally {
    await a.stop();
    await b.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
