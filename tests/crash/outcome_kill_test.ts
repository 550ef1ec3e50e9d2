/**
 * Unknown outcomes through the HTTP API of a real kernel killed with SIGKILL.
 *
 * Four processes of images with `recovery.onUnknownOutcome: "ask"` each POST
 * (not safe to repeat) to an in-process server that counts every request and
 * holds the first of each path unanswered. With all four in flight, the
 * kernel's whole process group is killed with SIGKILL and a new kernel
 * started on the same data directory. Each process then waits on an
 * `outcome` request, answered over the API (one with the CLI's
 * `libos outcome`): `happened` with a value (the
 * value is the call's result; the server is not asked again), `retry` (the
 * server is asked exactly once more, under the `uses: 1` grant spent by the
 * first attempt), `fail` (EUNKNOWN). The fourth is paused, answered `retry`,
 * and the kernel killed again before it resumed: the third kernel neither
 * asks again nor runs the call twice.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { MAIN, withTemp } from "../cli_kit.ts";

const TOKEN = "outcome-kill-admin-token-0123456789";
const TAGS = ["happened", "retry", "fail", "paused"] as const;

/** A server that counts POSTs per path and holds the first of each unanswered. */
function slowServer() {
  const counts = new Map<string, number>();
  const held: (() => void)[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const path = new URL(req.url).pathname.slice(1);
    const n = (counts.get(path) ?? 0) + 1;
    counts.set(path, n);
    if (n > 1) return new Response(`${path} done on attempt ${n}`, { status: 201 });
    const { promise, resolve } = Promise.withResolvers<Response>();
    held.push(() => resolve(new Response("too late")));
    return promise;
  });
  return {
    port: server.addr.port,
    count: (path: string) => counts.get(path) ?? 0,
    async [Symbol.asyncDispose]() {
      for (const release of held) release();
      await server.shutdown();
    },
  };
}

/** One `libos start`, leading its own process group. */
async function startKernel(cwd: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "start",
      "--data",
      "d",
      "--workspace",
      "ws",
      "--port",
      "0",
      "--no-sandbox",
    ],
    cwd,
    env: { LIBOS_ADMIN_TOKEN: TOKEN, NO_COLOR: "1" },
    detached: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const stderr = new Response(child.stderr).text();
  let seen = "";
  const kill = async () => {
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch {
      // The group is gone already.
    }
    await reader.cancel().catch(() => {});
    const status = await child.status;
    await stderr;
    return status;
  };
  for (let i = 0; i < 10_000; i++) {
    const m = /libos: API on (http:\/\/127\.0\.0\.1:\d+)/.exec(seen);
    if (m !== null) return { url: m[1]!, kill };
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
  }
  await kill();
  throw new Error(`libos start ended before it served its API:\n${seen}\n${await stderr}`);
}

/** A JSON request to a kernel as the admin. */
async function api(
  url: string,
  path: string,
  init: { method?: string; body?: unknown } = {},
  // deno-lint-ignore no-explicit-any
): Promise<{ status: number; json: any }> {
  const res = await fetch(`${url}${path}`, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text === "" ? null : JSON.parse(text) };
}

/** Long-polls until the process is settled (waiting or ended) or, with terminal, ended. */
// deno-lint-ignore no-explicit-any
async function settle(url: string, pid: string, until = "settled"): Promise<any> {
  const r = await api(url, `/v1/processes/${pid}/wait?until=${until}&timeoutMs=60000`);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.timedOut, false, `${pid} did not settle: ${JSON.stringify(r.json)}`);
  return r.json.process;
}

Deno.test({
  name:
    "SIGKILL while POSTs are in flight: outcome requests over the API settle each call once (happened, retry, fail), and an answer committed before a second SIGKILL is applied once",
  fn: async () => {
    await using server = slowServer();
    await withTemp("libos-outcome-kill-", async (dir) => {
      await Deno.mkdir(join(dir, "ws"));
      const net = `net:127.0.0.1:${server.port}`;
      const pids: Record<string, string> = {};

      // Boot 1: every process POSTs, and each POST is held; then SIGKILL.
      const k1 = await startKernel(dir);
      try {
        for (const tag of TAGS) {
          const spawned = await api(k1.url, "/v1/processes", {
            body: {
              goal: `post ${tag}`,
              image: {
                id: `outcome-${tag}`,
                name: `outcome ${tag}`,
                version: "1",
                model: {
                  provider: "scripted",
                  steps: [
                    {
                      tool: "fetch_url",
                      args: {
                        url: `http://127.0.0.1:${server.port}/${tag}`,
                        method: "POST",
                        body: tag,
                      },
                    },
                    { tool: "exit", args: { result: { $ref: "steps[0].result" } } },
                  ],
                },
                tools: ["fetch_url", "exit"],
                capabilities: [{ resource: net, rights: ["fetch"], uses: 1 }],
                recovery: { onUnknownOutcome: "ask" },
              },
            },
          });
          assert.equal(spawned.status, 201, JSON.stringify(spawned.json));
          pids[tag] = spawned.json.pid;
        }
        for (let i = 0; TAGS.some((t) => server.count(t) === 0); i++) {
          assert.ok(i < 600, "the four POSTs did not all arrive within 30 s");
          await new Promise((r) => setTimeout(r, 50));
        }
      } finally {
        assert.equal((await k1.kill()).signal, "SIGKILL");
      }
      assert.deepEqual(TAGS.map((t) => server.count(t)), [1, 1, 1, 1]);

      // Boot 2: each process waits on an outcome request.
      const k2 = await startKernel(dir);
      let killed2 = false;
      try {
        const requests: Record<string, { id: string; previewSha256: string; preview: string }> = {};
        for (const tag of TAGS) {
          const p = await settle(k2.url, pids[tag]!);
          assert.equal(p.state, "waiting", `${tag}: ${JSON.stringify(p)}`);
          const listed = await api(k2.url, `/v1/human?pid=${pids[tag]}`);
          assert.equal(listed.json.requests.length, 1);
          const r = listed.json.requests[0];
          assert.equal(r.kind, "outcome");
          assert.equal(r.state, "pending");
          assert.match(r.preview, /net\.fetch was in flight when the kernel stopped/);
          assert.ok(r.preview.includes(`POST http://127.0.0.1:${server.port}/${tag}`), r.preview);
          assert.match(r.preview, /started: \d{4}-\d\d-\d\dT/);
          requests[tag] = r;
        }
        assert.deepEqual(TAGS.map((t) => server.count(t)), [1, 1, 1, 1], "nothing re-sent");

        // Answers bound to the preview, and only the outcome answers.
        const h = requests["happened"]!;
        const post = (id: string, body: unknown) => api(k2.url, `/v1/human/${id}`, { body });
        assert.equal((await post(h.id, { decision: "happened" })).status, 400);
        const stale = await post(h.id, { decision: "happened", previewSha256: "0".repeat(64) });
        assert.equal(stale.status, 409);
        assert.equal(stale.json.error.code, "ESTALE");
        const approve = await post(h.id, { decision: "approve", previewSha256: h.previewSha256 });
        assert.equal(approve.status, 400);
        assert.match(approve.json.error.message, /expected happened, retry or fail/);

        // happened, from the CLI (which reads the request and sends its digest).
        const value = { status: 201, text: "confirmed by the operator" };
        const cli = await new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            MAIN,
            "outcome",
            h.id,
            "happened",
            "--value",
            JSON.stringify(value),
            "--url",
            k2.url,
            "--token",
            TOKEN,
          ],
          cwd: dir,
          stdin: "null",
        }).output();
        const said = new TextDecoder().decode(cli.stdout) + new TextDecoder().decode(cli.stderr);
        assert.equal(cli.code, 0, said);
        assert.match(said, new RegExp(`${h.id} happened \\(outcome from ${pids["happened"]}\\)`));
        const r = requests["retry"]!;
        assert.equal(
          (await post(r.id, { decision: "retry", previewSha256: r.previewSha256 })).status,
          200,
        );
        const f = requests["fail"]!;
        assert.equal(
          (await post(f.id, { decision: "fail", previewSha256: f.previewSha256 })).status,
          200,
        );

        const done = {
          happened: await settle(k2.url, pids["happened"]!, "terminal"),
          retry: await settle(k2.url, pids["retry"]!, "terminal"),
          fail: await settle(k2.url, pids["fail"]!, "terminal"),
        };
        assert.deepEqual(done.happened.result, { ok: true, value });
        assert.equal(done.retry.result.ok, true, JSON.stringify(done.retry.result));
        assert.equal(done.retry.result.value.text, "retry done on attempt 2");
        assert.equal(done.fail.result.ok, false);
        assert.equal(done.fail.result.error.code, "EUNKNOWN");
        assert.deepEqual(TAGS.map((t) => server.count(t)).slice(0, 3), [1, 2, 1]);
        const grants = await api(k2.url, `/v1/processes/${pids["retry"]}/capabilities`);
        assert.deepEqual(
          grants.json.capabilities.filter((g: { resource: string }) => g.resource === net)
            .map((g: { uses: number }) => g.uses),
          [0],
          "the one-time grant was spent once, by the first attempt",
        );

        // The fourth: paused, then answered retry; killed before it resumes.
        const paused = await api(k2.url, `/v1/processes/${pids["paused"]}/signal`, {
          body: { signal: "pause" },
        });
        assert.equal(paused.status, 200, JSON.stringify(paused.json));
        const q = requests["paused"]!;
        const answered = await post(q.id, { decision: "retry", previewSha256: q.previewSha256 });
        assert.equal(answered.status, 200);
        assert.equal(answered.json.state, "answered");
        const still = await api(k2.url, `/v1/processes/${pids["paused"]}`);
        assert.equal(still.json.state, "suspended");
        killed2 = true;
        assert.equal((await k2.kill()).signal, "SIGKILL");
      } finally {
        if (!killed2) await k2.kill();
      }
      assert.equal(server.count("paused"), 1, "not retried while suspended");

      // Boot 3: the committed answer applies once; no new request.
      const k3 = await startKernel(dir);
      try {
        const resumed = await api(k3.url, `/v1/processes/${pids["paused"]}/signal`, {
          body: { signal: "resume" },
        });
        assert.equal(resumed.status, 200, JSON.stringify(resumed.json));
        const p = await settle(k3.url, pids["paused"]!, "terminal");
        assert.equal(p.state, "exited");
        assert.equal(p.result.value.text, "paused done on attempt 2");
        assert.equal(server.count("paused"), 2, "retried exactly once");
        const all = await api(k3.url, `/v1/human?pid=${pids["paused"]}`);
        assert.equal(all.json.requests.length, 1, "not asked again");
        const answers = await api(k3.url, "/v1/audit?action=human.answered&limit=1000");
        assert.deepEqual(
          answers.json.records.map((a: { detail: { outcome: string } }) => a.detail.outcome)
            .sort(),
          ["fail", "happened", "retry", "retry"],
        );
        const verified = await api(k3.url, "/v1/audit/verify");
        assert.equal(verified.json.ok, true, JSON.stringify(verified.json));
      } finally {
        await k3.kill();
      }
      assert.deepEqual(TAGS.map((t) => server.count(t)), [1, 2, 1, 2]);
    });
  },
});
