import assert from "node:assert/strict";
import { runFilesystemContract } from "../testing/fs_contract.ts";
import { MemoryFilesystem } from "./memory_fs.ts";

runFilesystemContract("MemoryFilesystem", () => {
  const fs = new MemoryFilesystem({ mount: "/srv/workspace" });
  return Promise.resolve({
    fs,
    hostRoot: "/srv/workspace",
    symlink: (target, path) => fs.symlink(target, path),
    [Symbol.asyncDispose]: () => Promise.resolve(),
  });
});

Deno.test("MemoryFilesystem takes modification times from its clock", async () => {
  let now = 1000;
  const fs = new MemoryFilesystem({ now: () => now });
  await fs.writeBytes("a", new Uint8Array([1]));
  now = 2000;
  await fs.mkdir("d");
  assert.deepEqual(
    [(await fs.stat("a"))?.mtimeMs, (await fs.stat("d"))?.mtimeMs, (await fs.stat(""))?.mtimeMs],
    [1000, 2000, 2000],
  );
});

Deno.test("MemoryFilesystem resolves an absolute symlink under its mount to inside", async () => {
  const fs = new MemoryFilesystem();
  await fs.mkdir("d");
  await fs.symlink("/workspace/d", "abs");
  await fs.symlink("../workspace/d", "round-trip");
  assert.deepEqual([await fs.realPath("abs/x"), await fs.realPath("round-trip")], ["d/x", "d"]);
});
