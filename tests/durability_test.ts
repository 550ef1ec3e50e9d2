/**
 * Durable state: a kernel on SQLite survives a restart (waiting processes
 * keep waiting, answers wake them, effects are not repeated) and its audit
 * chain verifies — and detects an edit made behind its back.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { FakeClock, Kernel, LocalFilesystem, SqliteStore } from "../mod.ts";
import { call, scripted, toolResults } from "./helpers.ts";

async function withDirs(fn: (data: string, workspace: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "libos-durable-" });
  try {
    const data = join(root, "data");
    const workspace = join(root, "ws");
    await Deno.mkdir(data);
    await Deno.mkdir(workspace);
    await fn(data, workspace);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

async function boot(data: string, workspace: string, clock: FakeClock): Promise<Kernel> {
  const store = await SqliteStore.open(join(data, "kernel.db"));
  return await Kernel.create({ store, filesystem: new LocalFilesystem(workspace), clock });
}

Deno.test("a restart keeps a waiting process waiting; the answer after restart runs the approved write once", async () => {
  await withDirs(async (data, workspace) => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1));
    const image = scripted([
      call("write_text_file", { path: "log.txt", text: "first\n" }),
      call("write_text_file", { path: "deploy/app.conf", text: "port=1\n" }),
      call("exit", { result: "ok" }),
    ], {
      capabilities: [{ resource: "fs:log.txt", rights: ["write"], uses: 1 }, {
        resource: "fs:deploy/**",
        rights: ["write"],
        effect: "ask",
      }],
    });
    let pid: string;
    {
      await using kernel = await boot(data, workspace, clock);
      pid = (await kernel.spawn({ image, goal: "deploy" })).pid;
      assert.equal((await kernel.wait(pid)).state, "waiting");
    }
    {
      await using kernel = await boot(data, workspace, clock);
      assert.equal(kernel.get(pid).state, "waiting");
      const [r] = kernel.humanRequests({ state: "pending" });
      assert.ok(r);
      await kernel.answer(r.id, { decision: "approve" });
      const done = await kernel.wait(pid, { until: "terminal" });
      assert.equal(done.state, "exited");
      assert.equal(await Deno.readTextFile(join(workspace, "deploy/app.conf")), "port=1\n");
      assert.equal(await Deno.readTextFile(join(workspace, "log.txt")), "first\n");
      const results = await toolResults(kernel, pid);
      assert.deepEqual(results.map((x) => x.result.ok), [true, true, true]);
      const writes = (await kernel.journal(pid)).filter((e) =>
        e.kind === "syscall" && e.data["name"] === "fs.write"
      );
      assert.equal(writes.length, 2, "each write journaled exactly once");
      assert.equal(kernel.capabilities(pid).find((g) => g.resource === "fs:log.txt")?.uses, 0);
      const v = await kernel.verifyAudit();
      assert.equal(v.ok, true);
    }
  });
});

Deno.test("a process interrupted while runnable resumes after restart and finishes", async () => {
  await withDirs(async (data, workspace) => {
    const clock = new FakeClock(0);
    const store = await SqliteStore.open(join(data, "kernel.db"));
    const k1 = await Kernel.create({
      store,
      filesystem: new LocalFilesystem(workspace),
      clock,
      autostart: false,
    });
    const p = await k1.spawn({
      image: scripted([call("now"), call("exit", { result: "resumed" })]),
      goal: "g",
    });
    await k1.close();
    await using k2 = await boot(data, workspace, clock);
    const done = await k2.wait(p.pid, { until: "terminal" });
    assert.equal(done.result, "resumed");
  });
});

Deno.test("audit verify detects a record edited in the database", async () => {
  await withDirs(async (data, workspace) => {
    const clock = new FakeClock(0);
    {
      await using kernel = await boot(data, workspace, clock);
      const p = await kernel.spawn({
        image: scripted([
          call("now"),
          call("read_text_file", { path: "x" }),
          call("exit", { result: null }),
        ]),
        goal: "g",
      });
      await kernel.wait(p.pid);
      const v = await kernel.verifyAudit();
      assert.equal(v.ok, true);
      assert.ok(v.count >= 4);
    }
    const db = new DatabaseSync(join(data, "kernel.db"));
    try {
      const row = db.prepare("SELECT seq, body FROM audit WHERE action = 'fs.read'").get() as {
        seq: number;
        body: string;
      };
      db.prepare("UPDATE audit SET body = ? WHERE seq = ?").run(
        row.body.replace('"deny"', '"allow"'),
        row.seq,
      );
    } finally {
      db.close();
    }
    await using kernel = await boot(data, workspace, clock);
    const v = await kernel.verifyAudit();
    assert.equal(v.ok, false);
  });
});

Deno.test("audit verify against a head recorded elsewhere detects a truncated tail", async () => {
  await withDirs(async (data, workspace) => {
    const clock = new FakeClock(0);
    let head: { seq: number; hash: string };
    {
      await using kernel = await boot(data, workspace, clock);
      const p = await kernel.spawn({
        image: scripted([call("now"), call("exit", { result: null })]),
        goal: "g",
      });
      await kernel.wait(p.pid);
      head = kernel.auditHead!;
    }
    const db = new DatabaseSync(join(data, "kernel.db"));
    try {
      db.prepare("DELETE FROM audit WHERE seq = (SELECT MAX(seq) FROM audit)").run();
    } finally {
      db.close();
    }
    await using kernel = await boot(data, workspace, clock);
    const v = await kernel.verifyAudit({ expectedHead: head });
    assert.equal(v.ok, false);
    assert.match(v.ok ? "" : v.reason, /\d/);
  });
});

Deno.test("a syscall invoked from outside the step loop gets a call id never used before, across a restart", async () => {
  await withDirs(async (data, workspace) => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1));
    const image = scripted([call("ask_human", { question: "go?" })], {
      capabilities: [{ resource: "human:operator", rights: ["ask"] }],
    });
    let pid: string;
    {
      await using kernel = await boot(data, workspace, clock);
      pid = (await kernel.spawn({ image, goal: "wait" })).pid;
      assert.equal((await kernel.wait(pid)).state, "waiting");
      await kernel.invoke(pid, (sys) => sys.now());
    }
    {
      await using kernel = await boot(data, workspace, clock);
      await kernel.invoke(pid, (sys) => sys.now());
      const ids = (await kernel.journal(pid)).filter((e) => e.callId?.startsWith("x"))
        .map((e) => e.callId);
      assert.equal(ids.length, 2, JSON.stringify(ids));
      assert.equal(new Set(ids).size, 2, `two invocations, two call ids: ${ids}`);
    }
  });
});
