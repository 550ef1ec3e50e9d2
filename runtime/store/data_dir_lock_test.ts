import assert from "node:assert/strict";
import { join } from "node:path";
import { DataDirLock } from "./data_dir_lock.ts";
import { hasCode } from "../errors.ts";

const MODULE = new URL("./data_dir_lock.ts", import.meta.url).href;

async function withDir(fn: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "libos-lock-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("acquire records the holder; a second acquire fails at once with EBUSY naming its pid", async () => {
  await withDir((dir) => {
    using lock = DataDirLock.acquire(dir);
    assert.equal(lock.mode, "exclusive");
    assert.equal(lock.path, join(dir, "kernel.lock"));
    const holder = DataDirLock.holder(dir);
    assert.equal(holder?.pid, Deno.pid);
    assert.equal(holder?.hostname, Deno.hostname());
    assert.ok(!Number.isNaN(Date.parse(holder!.startedAt)));
    // flock belongs to the open file, so even this process is refused.
    const t0 = performance.now();
    assert.throws(() => DataDirLock.acquire(dir), (error: unknown) => {
      assert.ok(hasCode(error, "EBUSY"), String(error));
      assert.equal(
        error.message,
        `Cannot lock data directory '${dir}': it is in use by another kernel ` +
          `(pid ${Deno.pid} on ${holder!.hostname}, started ${holder!.startedAt}); stop it first`,
      );
      assert.deepEqual(error.fields, { path: dir, holder });
      return true;
    });
    assert.ok(performance.now() - t0 < 1000, "the refusal does not wait");
  });
});

Deno.test("release frees the directory, is idempotent and keeps the lock file", async () => {
  await withDir((dir) => {
    const first = DataDirLock.acquire(dir);
    first.release();
    first.release();
    assert.equal(first.held, false);
    {
      using second = DataDirLock.acquire(dir);
      assert.equal(second.held, true);
    }
    using third = DataDirLock.acquire(dir);
    assert.equal(third.held, true);
    assert.ok(Deno.statSync(join(dir, "kernel.lock")).isFile);
  });
});

Deno.test("acquireShared is null while a kernel holds the directory; while held it keeps kernels out", async () => {
  await withDir((dir) => {
    {
      using _kernel = DataDirLock.acquire(dir);
      assert.equal(DataDirLock.acquireShared(dir), null);
    }
    using reader = DataDirLock.acquireShared(dir);
    assert.equal(reader?.mode, "shared");
    using other = DataDirLock.acquireShared(dir);
    assert.equal(other?.mode, "shared", "readers share the directory");
    assert.throws(
      () => DataDirLock.acquire(dir),
      (error: unknown) =>
        hasCode(error, "EBUSY") && /a reader \(libos verify\) has it/.test(error.message),
    );
  });
});

Deno.test("acquireShared creates the lock file of a directory no kernel has used", async () => {
  await withDir((dir) => {
    using reader = DataDirLock.acquireShared(dir);
    assert.notEqual(reader, null);
    assert.equal(DataDirLock.holder(dir), null);
  });
});

Deno.test("a missing directory is ENOENT for kernels and readers", async () => {
  await withDir((dir) => {
    const missing = join(dir, "nope");
    for (const take of [DataDirLock.acquire, DataDirLock.acquireShared]) {
      assert.throws(
        () => take(missing),
        (error: unknown) =>
          hasCode(error, "ENOENT") &&
          error.message === `Cannot lock data directory '${missing}': it does not exist`,
      );
    }
  });
});

Deno.test("the lock ends with its process under SIGKILL, and its child processes do not inherit it", async () => {
  await withDir(async (dir) => {
    // The holder starts a long-lived child, then is killed: if the child had
    // inherited the lock's descriptor, the lock would outlive the holder.
    const script = `
      import { DataDirLock } from ${JSON.stringify(MODULE)};
      const lock = DataDirLock.acquire(${JSON.stringify(dir)});
      const child = new Deno.Command("sleep", {
        args: ["60"], stdin: "null", stdout: "null", stderr: "null",
      }).spawn();
      console.log(JSON.stringify({ child: child.pid, mode: lock.mode }));
      await new Promise(() => setTimeout(() => {}, 60_000));
    `;
    const holder = new Deno.Command(Deno.execPath(), {
      args: ["eval", "--ext=ts", script],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    let sleeper: number | null = null;
    try {
      const reader = holder.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let seen = "";
      while (!seen.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += value;
      }
      reader.releaseLock();
      sleeper = (JSON.parse(seen) as { child: number }).child;
      assert.throws(
        () => DataDirLock.acquire(dir),
        (error: unknown) =>
          hasCode(error, "EBUSY") && error.message.includes(`(pid ${holder.pid} on `),
      );
      holder.kill("SIGKILL");
      assert.equal((await holder.status).signal, "SIGKILL");
      Deno.kill(sleeper, "SIGCONT"); // throws if the child were gone: it is alive
      using lock = DataDirLock.acquire(dir);
      assert.equal(DataDirLock.holder(dir)?.pid, Deno.pid);
      assert.equal(lock.held, true);
    } finally {
      try {
        holder.kill("SIGKILL");
      } catch {
        // ended already
      }
      await holder.status;
      await holder.stdout.cancel().catch(() => {});
      if (sleeper !== null) Deno.kill(sleeper, "SIGKILL");
    }
  });
});
