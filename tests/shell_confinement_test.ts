/**
 * `run_shell` is never wider than the fs and net primitives: the program sees
 * the workspace as the process's fs grants show it, runs through an `ask` or
 * one-time grant over part of it (an approval naming the program and the
 * paths; a use per run), reaches the network only through the kernel's proxy
 * under its `net:` grants, and without bubblewrap does not run at all unless
 * the operator allowed unconfined runs.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { bodyText, Kernel, LocalFilesystem, NetProvider, ShellProvider } from "../mod.ts";
import { call, outcome, scripted, toolResults } from "./helpers.ts";

const BWRAP = await _works("bwrap", ["--ro-bind", "/", "/", "true"]);
const CURL = await _works("curl", ["--version"]);

async function _works(cmd: string, args: string[]): Promise<boolean> {
  try {
    return (await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output())
      .success;
  } catch {
    return false;
  }
}

/** A workspace with pub/readme.txt and secret/key.txt, and a kernel on it. */
async function world(options: { bubblewrap?: "auto" | "off"; unconfined?: boolean } = {}) {
  const ws = await Deno.makeTempDir({ prefix: "libos-shellview-" });
  await Deno.mkdir(join(ws, "pub"));
  await Deno.mkdir(join(ws, "secret"));
  await Deno.writeTextFile(join(ws, "pub", "readme.txt"), "public words\n");
  await Deno.writeTextFile(join(ws, "secret", "key.txt"), "the secret key\n");
  const shell = new ShellProvider({
    workspace: ws,
    bubblewrap: options.bubblewrap ?? "auto",
    unconfined: options.unconfined ?? false,
  });
  const kernel = await Kernel.create({
    filesystem: new LocalFilesystem(ws),
    shell,
    net: new NetProvider(),
  });
  return {
    ws,
    kernel,
    async [Symbol.asyncDispose]() {
      await kernel.close();
      await Deno.remove(ws, { recursive: true });
    },
  };
}

function value(r: { result: unknown } | undefined): { code: number; stdout: string } {
  return (r!.result as { value: { code: number; stdout: string } }).value;
}

Deno.test({
  name: "a folder the grants deny is hidden from the program as from read_text_file",
  ignore: !BWRAP,
  fn: async () => {
    await using w = await world();
    const p = await w.kernel.spawn({
      image: scripted([
        call("read_text_file", { path: "secret/key.txt" }),
        call("run_shell", { argv: ["cat", "secret/key.txt"] }),
        call("run_shell", { argv: ["cat", "pub/readme.txt"] }),
        call("exit", { result: null }),
      ], {
        capabilities: [
          { resource: "fs:**", rights: ["read"] },
          { resource: "fs:secret/**", rights: ["read"], effect: "deny" },
          { resource: "shell:cat *", rights: ["exec"] },
        ],
      }),
      goal: "g",
    });
    await w.kernel.wait(p.pid, { until: "terminal" });
    const r = await toolResults(w.kernel, p.pid);
    assert.deepEqual(r.map(outcome), ["EPERM", "ok", "ok", "ok"]);
    assert.notEqual(value(r[1]).code, 0);
    assert.ok(!JSON.stringify(r).includes("the secret key"), "the secret never reaches the model");
    assert.equal(value(r[2]).stdout, "public words\n");
  },
});

Deno.test({
  name:
    "a program cannot create a file that write_text_file would refuse (fs:* is the top level only)",
  ignore: !BWRAP,
  fn: async () => {
    await using w = await world();
    const p = await w.kernel.spawn({
      image: scripted([
        call("write_text_file", { path: "secret/planted.txt", text: "x" }),
        call("run_shell", { argv: ["cp", "top.txt", "secret/planted.txt"] }),
        call("run_shell", { argv: ["cp", "top.txt", "copy.txt"] }),
        call("exit", { result: null }),
      ], {
        capabilities: [
          { resource: "fs:*", rights: ["read", "write"] },
          { resource: "shell:cp", rights: ["exec"] },
        ],
      }),
      goal: "g",
    });
    await Deno.writeTextFile(join(w.ws, "top.txt"), "top\n");
    await w.kernel.wait(p.pid, { until: "terminal" });
    const r = await toolResults(w.kernel, p.pid);
    assert.deepEqual(r.map(outcome), ["EPERM", "ok", "ok", "ok"]);
    assert.notEqual(value(r[1]).code, 0);
    await assert.rejects(Deno.stat(join(w.ws, "secret", "planted.txt")), Deno.errors.NotFound);
    assert.equal(value(r[2]).code, 0, "a new file at the top level is within fs:*");
    assert.equal(await Deno.readTextFile(join(w.ws, "copy.txt")), "top\n");
  },
});

Deno.test({
  name:
    "a run over paths under an ask grant waits for one approval naming the program and the paths; a one-time grant is spent per run",
  ignore: !BWRAP,
  fn: async () => {
    await using w = await world();
    const p = await w.kernel.spawn({
      image: scripted([
        call("run_shell", { argv: ["cat", "secret/key.txt"] }),
        call("run_shell", { argv: ["cat", "secret/key.txt"] }),
        call("exit", { result: null }),
      ], {
        capabilities: [
          { resource: "fs:.", rights: ["read"], uses: 1 },
          { resource: "fs:secret/**", rights: ["read"], effect: "ask" },
          { resource: "shell:cat *", rights: ["exec"] },
        ],
      }),
      goal: "g",
    });
    assert.equal((await w.kernel.wait(p.pid)).state, "waiting");
    const [r] = w.kernel.humanRequests({ state: "pending" });
    assert.ok(r, "the run asks first");
    assert.match(bodyText(r.preview), /"cat" "secret\/key\.txt"/);
    assert.match(bodyText(r.preview), /fs:secret\/\*\*/);
    await w.kernel.answer(r.id, { decision: "approve" });
    await w.kernel.wait(p.pid, { until: "terminal" });
    const results = await toolResults(w.kernel, p.pid);
    assert.deepEqual(results.map(outcome), ["ok", "EPERM", "ok"]);
    assert.equal(value(results[0]).stdout, "the secret key\n");
    const once = w.kernel.capabilities(p.pid).find((g) => g.resource === "fs:.");
    assert.equal(once?.uses, 0, "the one-time grant was spent by the first run");
    assert.equal(w.kernel.humanRequests({ pid: p.pid }).length, 1, "asked once");
  },
});

Deno.test({
  name: "a program reaches the network only through the kernel's proxy, under explicit net grants",
  ignore: !BWRAP || !CURL,
  fn: async () => {
    let hits = 0;
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
      hits++;
      return new Response("hello through the proxy");
    });
    const url = `http://127.0.0.1:${server.addr.port}/`;
    try {
      await using w = await world();
      const run = async (net: string | null) => {
        const p = await w.kernel.spawn({
          image: scripted([
            call("run_shell", { argv: ["curl", "-sf", "--max-time", "5", url] }),
            call("exit", { result: null }),
          ], {
            capabilities: [
              { resource: "fs:**", rights: ["read"] },
              { resource: "shell:curl", rights: ["exec"] },
              ...(net === null ? [] : [{ resource: net, rights: ["fetch"] }]),
            ],
          }),
          goal: "g",
        });
        await w.kernel.wait(p.pid, { until: "terminal" });
        return { pid: p.pid, r: value((await toolResults(w.kernel, p.pid))[0]) };
      };
      const none = await run(null);
      assert.notEqual(none.r.code, 0, "no net grant: no network");
      const wild = await run("net:*");
      assert.notEqual(wild.r.code, 0, "a wildcard does not reach loopback");
      assert.equal(hits, 0);
      const exact = await run(`net:127.0.0.1:${server.addr.port}`);
      assert.equal(exact.r.code, 0);
      assert.equal(exact.r.stdout, "hello through the proxy");
      assert.equal(hits, 1);
      const audits = await w.kernel.audit({ pid: exact.pid, action: "net.fetch" });
      assert.ok(audits.some((a) => a.decision === "allow"), "the connection was audited");
      const denied = await w.kernel.audit({ pid: wild.pid, action: "net.fetch" });
      assert.ok(denied.some((a) => a.decision === "deny"), "the refusal was audited");
    } finally {
      await server.shutdown();
    }
  },
});

Deno.test("without bubblewrap a program does not run unless the operator allowed unconfined runs", async () => {
  for (const unconfined of [false, true]) {
    await using w = await world({ bubblewrap: "off", unconfined });
    const p = await w.kernel.spawn({
      image: scripted([
        call("run_shell", { argv: ["cat", "pub/readme.txt"] }),
        call("exit", { result: null }),
      ], {
        capabilities: [
          { resource: "fs:**", rights: ["read"] },
          { resource: "shell:cat *", rights: ["exec"] },
        ],
      }),
      goal: "g",
    });
    await w.kernel.wait(p.pid, { until: "terminal" });
    const [r] = await toolResults(w.kernel, p.pid);
    if (unconfined) {
      assert.equal(outcome(r), "ok");
      assert.equal((r!.result as { value: { confined: boolean } }).value.confined, false);
    } else {
      assert.equal(outcome(r), "EPERM");
      assert.match((r!.result as { error: { message: string } }).error.message, /confin/);
    }
  }
});

Deno.test({
  name:
    "a large folder no grant tells apart is not walked: run_shell in a workspace of 11,000 files",
  ignore: !BWRAP,
  fn: async () => {
    await using w = await world();
    await Deno.mkdir(join(w.ws, "node_modules", "big"), { recursive: true });
    for (let i = 0; i < 11_000; i++) {
      await Deno.writeTextFile(join(w.ws, "node_modules", "big", `f${i}.js`), "");
    }
    const p = await w.kernel.spawn({
      image: scripted([
        call("run_shell", { argv: ["cat", "pub/readme.txt"] }),
        call("run_shell", { argv: ["cat", "secret/key.txt"] }),
        call("exit", { result: null }),
      ], {
        capabilities: [
          { resource: "fs:**", rights: ["read"] },
          { resource: "fs:secret/**", rights: ["read"], effect: "deny" },
          { resource: "shell:cat", rights: ["exec"] },
        ],
      }),
      goal: "g",
    });
    await w.kernel.wait(p.pid, { until: "terminal" });
    const r = await toolResults(w.kernel, p.pid);
    assert.deepEqual(r.map(outcome), ["ok", "ok", "ok"], JSON.stringify(r[0]));
    assert.equal(value(r[0]).stdout, "public words\n");
    assert.notEqual(value(r[1]).code, 0, "the denied folder stays hidden");
    const [allow] = (await w.kernel.audit({ pid: p.pid, action: "shell.run" })).filter((a) =>
      a.decision === "allow"
    );
    const walked = (allow!.detail as { view: number }).view;
    assert.ok(walked < 100, `walked ${walked} entries`);
  },
});
