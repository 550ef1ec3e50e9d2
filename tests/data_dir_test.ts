/**
 * A data directory belongs to one kernel at a time, and `libos verify` reads
 * it without writing: the CLI as a user runs it, on temporary directories.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { hasCode, SqliteStore } from "../mod.ts";
import { libos as cliCommand, startKernel, withTemp as withTempIn } from "./cli_kit.ts";

const HELLO = new URL("../examples/images/hello.jsonc", import.meta.url).pathname;

function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  return withTempIn("libos-data-dir-", fn);
}

function libos(args: string[], cwd: string): Deno.Command {
  return cliCommand(args, cwd, { env: { LIBOS_ADMIN_TOKEN: "" }, timeoutMs: 60_000 });
}

async function run(args: string[], cwd: string): Promise<{ code: number; out: string }> {
  const o = await libos(args, cwd).output();
  const out = new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr);
  return { code: o.code, out };
}

/** Every file of `dir` with its size, mtime and SHA-256, except `-shm` files (see below). */
async function fingerprint(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for await (const e of Deno.readDir(dir)) {
    const path = join(dir, e.name);
    // A reader of a WAL database records its read marks in the shared-memory
    // index (-shm); that is no state of the kernel's.
    if (e.name.endsWith("-shm")) {
      files[e.name] = "present";
      continue;
    }
    const stat = await Deno.stat(path);
    const hash = createHash("sha256").update(await Deno.readFile(path)).digest("hex");
    files[e.name] = `${stat.size} bytes, mtime ${stat.mtime?.getTime()}, sha256 ${hash}`;
  }
  return files;
}

Deno.test("a second start on a data directory in use exits 1 at once naming the holder's pid; after SIGKILL of the holder a new start succeeds", async () => {
  await withTemp(async (dir) => {
    const first = await startKernel(dir);
    try {
      const t0 = performance.now();
      const second = await run(
        ["start", "--data", "d", "--workspace", ".", "--port", "0", "--no-sandbox"],
        dir,
      );
      const ms = performance.now() - t0;
      assert.equal(second.code, 1, second.out);
      const data = join(await Deno.realPath(dir), "d");
      assert.match(
        second.out,
        new RegExp(
          `libos: Cannot lock data directory '${data}': it is in use by another kernel ` +
            `\\(pid ${first.pid} on [^,]+, started \\d{4}-\\d\\d-\\d\\dT[^)]+\\); stop it first`,
        ),
      );
      assert.doesNotMatch(second.out, /kernel up/);
      assert.ok(ms < 15_000, `the refusal took ${ms.toFixed(0)} ms`);

      const killed = await first.stop("SIGKILL");
      assert.equal(killed.status.signal, "SIGKILL");
    } finally {
      await first[Symbol.asyncDispose]();
    }
    const third = await startKernel(dir);
    try {
      const stopped = await third.stop("SIGTERM");
      assert.equal(stopped.status.code, 0, stopped.out);
      assert.match(stopped.out, /state committed; bye/);
    } finally {
      await third[Symbol.asyncDispose]();
    }
  });
});

Deno.test("verify writes nothing: not to a stopped kernel's directory, not beside a running kernel, not after a crash", async () => {
  await withTemp(async (dir) => {
    const once = await run(
      ["start", "--image", HELLO, "--once", "--data", "d", "--port", "0", "--no-sandbox"],
      dir,
    );
    assert.equal(once.code, 0, once.out);
    const data = join(dir, "d");

    // Stopped: no -wal, and verify must create none (nor a -shm).
    const before = await fingerprint(data);
    assert.equal(before["kernel.db-wal"], undefined);
    const stopped = await run(["verify", "--data", "d"], dir);
    assert.equal(stopped.code, 0, stopped.out);
    assert.match(stopped.out, /audit chain ok: [1-9]\d* records/);
    assert.deepEqual(await fingerprint(data), before);
    // (In-process opens are not checked here: SQLite takes the immutable
    // `file:` URI only with every permission, as `deno run -A main.ts verify`
    // has; a narrower process falls back to a plain read-only open.)

    // Running: verify needs no lock and reads the kernel's WAL, unchanged.
    const kernel = await startKernel(dir);
    try {
      const running = await fingerprint(data);
      assert.ok(running["kernel.db-wal"] !== undefined);
      const beside = await run(["verify", "--data", "d"], dir);
      assert.equal(beside.code, 0, beside.out);
      assert.match(beside.out, /audit chain ok: [1-9]\d* records/);
      assert.deepEqual(await fingerprint(data), running);

      // Crashed: the WAL the dead kernel left is read, unchanged.
      await kernel.stop("SIGKILL");
      const crashed = await fingerprint(data);
      const after = await run(["verify", "--data", "d"], dir);
      assert.equal(after.code, 0, after.out);
      assert.deepEqual(await fingerprint(data), crashed);
    } finally {
      await kernel[Symbol.asyncDispose]();
    }
  });
});

Deno.test("verify of a directory without a kernel.db fails and creates nothing", async () => {
  await withTemp(async (dir) => {
    const out = await run(["verify", "--data", "d"], dir);
    assert.equal(out.code, 1);
    assert.match(out.out, /Cannot verify '.*d': it holds no kernel\.db/);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(dir)), []);
  });
});

Deno.test("a store opened readOnly refuses every batch and needs this code's schema", async () => {
  await withTemp(async (dir) => {
    const path = join(dir, "kernel.db");
    await (await SqliteStore.open(path)).close();
    await using store = await SqliteStore.open(path, { readOnly: true });
    await assert.rejects(
      store.apply([{ kind: "meta.put", key: "shutdown", value: "running" }]),
      (error: unknown) =>
        hasCode(error, "ESTATE") &&
        error.message === `Cannot apply a batch to store '${path}': the store is open read-only`,
    );
    assert.deepEqual((await store.load()).meta, {});

    const empty = join(dir, "empty.db");
    await Deno.writeFile(empty, new Uint8Array());
    await assert.rejects(
      SqliteStore.open(empty, { readOnly: true }),
      (error: unknown) => hasCode(error, "EINVAL") && /holds no kernel state/.test(error.message),
    );
    await assert.rejects(SqliteStore.open(path, { immutable: true }), TypeError);
  });
});
