/**
 * The network and shell primitives: `fetch_url` under `net:` grants (special
 * addresses in any spelling need an explicit grant; redirects are decided
 * again) and `run_shell` under `shell:` grants, confined to the cwd subtree.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Kernel, LocalFilesystem, MemoryFilesystem, NetProvider, ShellProvider } from "../mod.ts";
import { call, outcome, scripted, toolResults } from "./helpers.ts";

Deno.test("fetch_url: a wildcard does not reach loopback; an explicit grant does, in any spelling; a redirect is decided again", async () => {
  const other = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("other"),
  );
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) =>
      new URL(req.url).pathname === "/hop"
        ? Response.redirect(`http://127.0.0.1:${other.addr.port}/`, 302)
        : new Response("hello from loopback"),
  );
  const port = server.addr.port;
  try {
    await using kernel = await Kernel.create({
      filesystem: new MemoryFilesystem(),
      net: new NetProvider(),
    });
    const steps = [
      call("fetch_url", { url: `http://127.0.0.1:${port}/` }),
      call("fetch_url", { url: `http://2130706433:${port}/` }),
      call("fetch_url", { url: `http://127.0.0.1:${port}/hop` }),
      call("exit", { result: null }),
    ];
    const wild = await kernel.spawn({
      image: scripted(steps, { capabilities: [{ resource: "net:*", rights: ["fetch"] }] }),
      goal: "g",
    });
    await kernel.wait(wild.pid, { until: "terminal" });
    assert.deepEqual((await toolResults(kernel, wild.pid)).slice(0, 3).map(outcome), [
      "EPERM",
      "EPERM",
      "EPERM",
    ]);
    const exact = await kernel.spawn({
      image: scripted(steps, {
        capabilities: [{ resource: `net:127.0.0.1:${port}`, rights: ["fetch"] }],
      }),
      goal: "g",
    });
    await kernel.wait(exact.pid, { until: "terminal" });
    const r = await toolResults(kernel, exact.pid);
    assert.deepEqual(
      r.slice(0, 3).map(outcome),
      ["ok", "ok", "EPERM"],
      "the redirect to another port is refused",
    );
    assert.equal((r[0]!.result as { value: { text: string } }).value.text, "hello from loopback");
    const denies = (await kernel.audit({ pid: exact.pid, action: "net.fetch" })).filter((a) =>
      a.decision === "deny"
    );
    assert.equal(denies.length, 1);
    assert.equal(denies[0]!.resource, `net:127.0.0.1:${other.addr.port}`);
  } finally {
    await server.shutdown();
    await other.shutdown();
  }
});

Deno.test("run_shell: argv under a shell grant, in the cwd, read-only without fs write, refused without grants", async () => {
  const ws = await Deno.makeTempDir({ prefix: "libos-shell-" });
  try {
    await Deno.mkdir(join(ws, "src"));
    await Deno.writeTextFile(join(ws, "src", "a.txt"), "alpha\n");
    await Deno.writeTextFile(join(ws, "secret.txt"), "top secret\n");
    const shell = new ShellProvider({ workspace: ws });
    await using kernel = await Kernel.create({ filesystem: new LocalFilesystem(ws), shell });
    const p = await kernel.spawn({
      image: scripted([
        call("run_shell", { argv: ["cat", "a.txt"] }),
        call("run_shell", { argv: ["touch", "new.txt"] }),
        call("run_shell", { argv: ["cat", "../secret.txt"] }),
        call("run_shell", { argv: ["rm", "a.txt"] }),
        call("exit", { result: null }),
      ], {
        capabilities: [
          { resource: "shell:cat *", rights: ["exec"] },
          { resource: "shell:touch *", rights: ["exec"] },
          { resource: "fs:src/**", rights: ["read"] },
        ],
      }),
      goal: "g",
      cwd: "src",
    });
    await kernel.wait(p.pid, { until: "terminal" });
    const r = await toolResults(kernel, p.pid);
    const v = (i: number) =>
      (r[i]!.result as { value: { code: number; stdout: string; confined: boolean } }).value;
    assert.equal(v(0).stdout, "alpha\n");
    assert.deepEqual(r.map(outcome), ["ok", "ok", "ok", "EPERM", "ok"]);
    if (v(0).confined) {
      assert.notEqual(v(1).code, 0, "a read-only cwd cannot be written");
      assert.notEqual(v(2).code, 0, "nothing outside the cwd subtree is visible");
      assert.ok(!JSON.stringify(r).includes("top secret"));
    }
    const bare = await kernel.spawn({
      image: scripted([
        call("run_shell", { argv: ["cat", "a.txt"] }),
        call("exit", { result: null }),
      ], { capabilities: [{ resource: "shell:cat *", rights: ["exec"] }] }),
      goal: "g",
      cwd: "src",
    });
    await kernel.wait(bare.pid, { until: "terminal" });
    assert.equal(
      outcome((await toolResults(kernel, bare.pid))[0]),
      "EPERM",
      "no fs right on the cwd: no shell there",
    );
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("fetch_url: a one-time grant is spent and the decision audited before the connection, whatever the outcome; each redirect hop is its own request", async () => {
  let requests = 0;
  const big = new Uint8Array(9 * 1024 * 1024);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    requests++;
    await req.arrayBuffer();
    return new URL(req.url).pathname === "/loop"
      ? Response.redirect(new URL("/loop", req.url).href, 302)
      : new Response(big);
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  try {
    await using kernel = await Kernel.create({
      filesystem: new MemoryFilesystem(),
      net: new NetProvider(),
    });
    const post = (path: string) =>
      call("fetch_url", { url: `${base}${path}`, method: "POST", body: "x" });
    const p = await kernel.spawn({
      image: scripted([post("/big"), post("/big"), post("/loop"), call("exit", { result: null })], {
        capabilities: [{
          resource: `net:127.0.0.1:${server.addr.port}`,
          rights: ["fetch"],
          uses: 1,
        }],
      }),
      goal: "g",
    });
    await kernel.wait(p.pid, { until: "terminal" });
    const r = await toolResults(kernel, p.pid);
    assert.deepEqual(r.map(outcome), ["ELIMIT", "EPERM", "EPERM", "ok"]);
    assert.equal(requests, 1, "one request body reached the server under a one-use grant");
    const audit = await kernel.audit({ pid: p.pid, action: "net.fetch" });
    assert.deepEqual(audit.map((a) => a.decision), ["allow", "deny", "deny"]);
    const spent = kernel.capabilities(p.pid)[0]!;
    assert.equal(spent.uses, 0);

    // A redirect loop under a standing grant: every hop is decided and audited.
    const loop = await kernel.spawn({
      image: scripted(
        [call("fetch_url", { url: `${base}/loop` }), call("exit", { result: null })],
        {
          capabilities: [{ resource: `net:127.0.0.1:${server.addr.port}`, rights: ["fetch"] }],
        },
      ),
      goal: "g",
    });
    await kernel.wait(loop.pid, { until: "terminal" });
    assert.equal(outcome((await toolResults(kernel, loop.pid))[0]), "ELIMIT");
    const hops = (await kernel.audit({ pid: loop.pid, action: "net.fetch" })).filter((a) =>
      a.decision === "allow"
    );
    assert.equal(hops.length, 6, "the first request and each of the 5 redirects followed");
  } finally {
    await server.shutdown();
  }
});
