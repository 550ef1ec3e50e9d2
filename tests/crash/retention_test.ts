/**
 * Retention across a real SIGKILL: a kernel on SQLite dies around the purge
 * batch of an ended `purge_on_exit` process (before it reaches SQLite, after
 * it committed, or killed from outside while it is handed over). The database
 * then holds every body kept or every body purged, never a mix; the next boot
 * purges what was not, the audit chain verifies, and after a clean close the
 * database file holds none of the text (secure_delete, WAL checkpointed).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Kernel, MemoryFilesystem, SqliteStore } from "../../mod.ts";
import { WORKER_SECRET } from "./retention_worker.ts";

const WORKER = new URL("./retention_worker.ts", import.meta.url).pathname;

/** Runs the worker until it dies by SIGKILL; `race` kills it once it says PURGING. */
async function runUntilKilled(data: string, mode: "before" | "after" | "race"): Promise<void> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", WORKER, "--data", data, "--mode", mode],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  try {
    while (!/PURGING|DONE/.test(seen)) {
      const { value, done } = await lines.read();
      if (done) break;
      seen += value;
    }
    if (mode === "race") child.kill("SIGKILL");
  } finally {
    await lines.cancel();
  }
  const status = await child.status;
  assert.equal(status.signal, "SIGKILL", `worker ${mode}: ${seen} ${await stderr}`);
}

/** Every body of p_1 purged ("all"), none ("none"), or a mix ("some"), read without writing. */
async function purgeState(path: string): Promise<"all" | "none" | "some"> {
  await using store = await SqliteStore.open(path, { readOnly: true });
  const journal = (await store.readJournal("p_1")).filter((e) => e.kind !== "lifecycle");
  const [oid] = await store.listObjectIds("proc/p_1");
  const versions = await store.readObjectVersions(oid!);
  const p = (await store.load()).processes.find((q) => q.pid === "p_1")!;
  const marks = [
    ...journal.map((e) => e.data["purged"] === true),
    ...versions.map((v) => (v.payload as { purged?: boolean }).purged === true),
    p.purgedAt !== null,
  ];
  assert.ok(journal.length > 40 && versions.length >= 40, `${journal.length} ${versions.length}`);
  return marks.every(Boolean) ? "all" : marks.some(Boolean) ? "some" : "none";
}

/** Boots on what the worker left, checks the recovered purge, closes cleanly. */
async function recoverAndCheck(path: string): Promise<void> {
  const store = await SqliteStore.open(path);
  const kernel = await Kernel.create({
    store,
    filesystem: new MemoryFilesystem(),
    autostart: false,
  });
  try {
    assert.equal(await purgeState(path), "all");
    assert.equal((await kernel.audit({ action: "process.purge" })).length, 1);
    assert.equal((await kernel.verifyAudit()).ok, true);
    assert.equal(store.integrityCheck(), "ok");
  } finally {
    await kernel.close();
  }
  // No page of the file (nor a WAL left beside it) still holds the text.
  const secret = new TextEncoder().encode(WORKER_SECRET);
  for (const file of [path, `${path}-wal`]) {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(file);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      throw error;
    }
    assert.equal(_indexOf(bytes, secret), -1, `${file} still holds the purged text`);
  }
}

function _indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

for (const [mode, expected] of [["before", "none"], ["after", "all"], ["race", null]] as const) {
  Deno.test(`retention across SIGKILL (${mode} the purge batch): all kept or all purged, purged at the next boot, no text left in the file`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "libos-retention-" });
    try {
      const path = join(dir, "kernel.db");
      await runUntilKilled(dir, mode);
      const state = await purgeState(path);
      assert.notEqual(state, "some", "a crash left a purge half done");
      if (expected !== null) assert.equal(state, expected);
      await recoverAndCheck(path);
    } finally {
      if (Deno.env.get("KEEP_DIR") === undefined) await Deno.remove(dir, { recursive: true });
      else console.log(dir);
    }
  });
}
