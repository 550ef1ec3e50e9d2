/**
 * The kernel on the PostgreSQL store: the CLI started with `--store` and
 * `LIBOS_STORE`, and the crash harness's worker kernel killed and restarted
 * on it, each on a fresh schema that is dropped afterwards. Skipped, with a
 * printed reason, when no PostgreSQL answers (see runtime/testing/postgres_testing.ts).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runCrashCampaign, runInterruptedWrite } from "./crash/harness.ts";
import { libos, withTemp } from "./cli_kit.ts";
import { openTestPostgresStore, skipPostgres } from "../runtime/testing/postgres_testing.ts";
import { postgresTest } from "./postgres_kit.ts";
import { Kernel, MemoryFilesystem, SqliteStore } from "../mod.ts";

const ignore = await skipPostgres();

function pgTest(name: string, fn: (dir: string, url: string) => Promise<void>): void {
  postgresTest(name, "libos-pg-", fn);
}

const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

pgTest(
  "libos start --store postgres://… keeps the kernel's state in PostgreSQL: a restart with LIBOS_STORE finds it, verify --store checks its chain",
  async (dir, url) => {
    await Deno.writeTextFile(join(dir, "README.md"), "hello\n");
    const image = new URL("../examples/images/hello.jsonc", import.meta.url).pathname;
    const start = [
      "start",
      "--image",
      image,
      "--once",
      "--data",
      "d",
      "--port",
      "0",
      "--no-sandbox",
    ];
    const first = await libos([...start, "--store", url], dir).output();
    const out = decode(first.stdout);
    assert.equal(first.code, 0, out + decode(first.stderr));
    assert.match(out, /store postgres:\/\/postgres@127\.0\.0\.1:5432\/test\?schema=libos_test_/);
    assert.match(out, /p_1 running → exited result \{"ok":true\}/);
    // The data directory holds the lock and the token, not the state.
    assert.equal(await Deno.stat(join(dir, "d", "kernel.db")).catch(() => null), null);

    const second = await libos(start, dir, { env: { LIBOS_STORE: url } }).output();
    assert.equal(second.code, 0, decode(second.stdout) + decode(second.stderr));
    // The pid counter came back from PostgreSQL.
    assert.match(decode(second.stdout), /p_2 running → exited result \{"ok":true\}/);

    const verify = await libos(["verify", "--store", url], dir).output();
    assert.equal(verify.code, 0, decode(verify.stderr));
    assert.match(decode(verify.stdout), /audit chain ok: \d+ records/);
  },
);

Deno.test("libos start and verify refuse a --store that is neither sqlite nor a postgres:// URL, naming it, with its password hidden", async () => {
  await withTemp("libos-pg-", async (dir) => {
    for (const verb of ["start", "verify"]) {
      const out = await libos([verb, "--data", "d", "--store", "mysql://root:pw@127.0.0.1/x"], dir)
        .output();
      assert.equal(out.code, 2, verb);
      const err = decode(out.stderr);
      assert.match(
        err,
        /Cannot use store 'mysql:\/\/root:\*\*\*@127\.0\.0\.1\/x': expected 'sqlite'/,
      );
      assert.doesNotMatch(err, /:pw@/);
    }
    // Nothing was created for the refused start.
    assert.equal(await Deno.stat(join(dir, "d")).catch(() => null), null);
  });
});

pgTest(
  "on PostgreSQL, a write in flight when the kernel dies after its effect is settled from evidence: done once, never rewritten",
  async (dir, url) => {
    const r = await runInterruptedWrite(dir, ["--crash-after", "w1/f2.txt"], { store: url });
    assert.deepEqual(r.exits, [9, 0]);
    assert.equal(r.file, "round 2\n");
    assert.equal(r.processes[0]?.state, "exited");
    const writes = r.journal.filter((e) => e.kind === "syscall" && e.name === "fs.write");
    assert.equal(writes.length, 5);
    assert.equal(new Set(writes.map((w) => w.callId)).size, 5, "each write call completed once");
    assert.deepEqual(r.settled, ["evidence"]);
    assert.deepEqual(r.stats[1], r.stats[0], "same inode and mtime after recovery");
  },
);

pgTest(
  "on PostgreSQL, kill -9 at random points: nothing acknowledged lost, no effect twice, results as uninterrupted",
  async (dir, url) => {
    const kills = 4;
    const result = await runCrashCampaign(dir, {
      kills,
      seed: 20261201,
      procs: 4,
      rounds: 200,
      sleepMs: 10,
      minDelayMs: 250,
      maxDelayMs: 700,
      store: url,
    });
    assert.deepEqual(result.problems, []);
    assert.ok(result.kills >= kills, `only ${result.kills} kills interrupted work`);
  },
);

Deno.test({
  name:
    "a burst of 600 concurrent spawns takes its ids without running a block dry (PostgreSQL blocks of 64; SQLite)",
  ignore,
  fn: async () => {
    const image = {
      id: "burst",
      name: "b",
      version: "1",
      model: { provider: "scripted" as const, steps: [{ tool: "sleep", args: { ms: 3_600_000 } }] },
      tools: ["*"],
      capabilities: [{ resource: "obj:**", rights: ["read", "write"] }],
    };
    const dir = await Deno.makeTempDir({ prefix: "libos-burst-" });
    try {
      for (
        const store of [
          await openTestPostgresStore(),
          await SqliteStore.open(join(dir, "kernel.db")),
        ]
      ) {
        await using kernel = await Kernel.create({
          store,
          filesystem: new MemoryFilesystem(),
          cluster: { idBlockSize: 64 },
        });
        await kernel.registerImage(image);
        const spawned = await Promise.all(
          Array.from({ length: 600 }, (_, i) => kernel.spawn({ image: "burst", goal: `g${i}` })),
        );
        const pids = new Set(spawned.map((p) => p.pid));
        assert.equal(pids.size, 600, `${store.kind}: 600 distinct pids`);
        const grants = new Set(spawned.flatMap((p) => kernel.capabilities(p.pid).map((g) => g.id)));
        assert.equal(grants.size, 600, `${store.kind}: one grant each, all distinct`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
