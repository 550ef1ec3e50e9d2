/**
 * `Idempotency-Key` across SIGKILL of a real `libos start`: a spawn whose
 * answer never reached the client (the kernel was killed after answering, or
 * while it ran the request) is retried with its key after the restart, and
 * exactly one process exists, the one the retry names.
 */
import assert from "node:assert/strict";
import { libos, startKernel, withTemp } from "./cli_kit.ts";
import { call, scripted } from "./helpers.ts";

const ADMIN = "kill-test-admin-token-0123456789";
const ENV = { LIBOS_ADMIN_TOKEN: ADMIN };

const image = scripted([call("ask_human", { question: "go on?" }), call("exit", {})], {
  id: "idem-kill",
  capabilities: [{ resource: "human:operator", rights: ["ask"] }],
});

function spawn(url: string, goal: string, key: string): Promise<Response> {
  return fetch(`${url}/v1/processes`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${ADMIN}`,
      "content-type": "application/json",
      "idempotency-key": key,
    },
    body: JSON.stringify({ image, goal }),
  });
}

async function processes(url: string): Promise<{ pid: string; goal: string }[]> {
  const r = await fetch(`${url}/v1/processes`, { headers: { authorization: `Bearer ${ADMIN}` } });
  return (await r.json()).processes;
}

Deno.test("a spawn whose answer was lost to SIGKILL, retried with its key after the restart, gives the same pid and one process", async () => {
  await withTemp("libos-idem-kill-", async (dir) => {
    // Killed after it answered: the client never read the answer.
    let first = await startKernel(dir, { env: ENV });
    let pid: string;
    try {
      const r = await spawn(first.url, "answered then killed", "k-answered");
      assert.equal(r.status, 201);
      pid = (await r.json()).pid;
      assert.equal((await first.stop("SIGKILL")).status.signal, "SIGKILL");
    } finally {
      await first[Symbol.asyncDispose]();
    }
    first = await startKernel(dir, { env: ENV });
    try {
      const retry = await spawn(first.url, "answered then killed", "k-answered");
      assert.equal(retry.status, 201);
      assert.equal(retry.headers.get("idempotent-replayed"), "true");
      assert.equal((await retry.json()).pid, pid);
      const mine = (await processes(first.url)).filter((p) => p.goal === "answered then killed");
      assert.deepEqual(mine.map((p) => p.pid), [pid]);

      // Killed while the request runs (at 0, 5, 20 ms after it was sent):
      // whichever side of its commit the kill lands on, the retry leaves one process.
      let kernel = first;
      for (const [i, delayMs] of [0, 5, 20].entries()) {
        const goal = `killed mid-request ${i}`;
        const sent = spawn(kernel.url, goal, `k-mid-${i}`).then((r) => r.status, () => "lost");
        await new Promise((r) => setTimeout(r, delayMs));
        await kernel.stop("SIGKILL");
        await kernel[Symbol.asyncDispose]();
        await sent;
        kernel = await startKernel(dir, { env: ENV });
        const retry = await spawn(kernel.url, goal, `k-mid-${i}`);
        assert.equal(retry.status, 201, await retry.clone().text());
        const answered = (await retry.json()).pid;
        const live = (await processes(kernel.url)).filter((p) => p.goal === goal);
        assert.deepEqual(live.map((p) => p.pid), [answered], `round ${i}: one process`);
        const again = await spawn(kernel.url, goal, `k-mid-${i}`);
        assert.equal(again.headers.get("idempotent-replayed"), "true");
        assert.equal((await again.json()).pid, answered);
      }
      first = kernel;
    } finally {
      await first[Symbol.asyncDispose]();
    }
  });
});

Deno.test("libos start refuses a malformed --idempotency-ttl, naming the flag and what it expects", async () => {
  await withTemp("libos-idem-ttl-", async (dir) => {
    const o = await libos(["start", "--data", "d", "--idempotency-ttl", "5x", "--port", "0"], dir, {
      env: ENV,
      timeoutMs: 60_000,
    }).output();
    const err = new TextDecoder().decode(o.stderr);
    assert.equal(o.code, 2, err);
    assert.match(
      err,
      /--idempotency-ttl must be a duration such as 24h, 30m, 90s or 500ms, got '5x'/,
    );
  });
});
