import assert from "node:assert/strict";
import { LibosError } from "../errors.ts";
import { runFilesystemContract } from "../testing/fs_contract.ts";
import { LocalFilesystem } from "./local_fs.ts";

/** A temporary directory holding `workspace/` and, beside it, `outside/secret`. */
async function makeSandbox() {
  const base = await Deno.realPath(await Deno.makeTempDir({ prefix: "libos_fs_" }));
  await Deno.mkdir(`${base}/workspace`);
  await Deno.mkdir(`${base}/outside`);
  await Deno.writeTextFile(`${base}/outside/secret`, "secret");
  const fs = new LocalFilesystem(`${base}/workspace`);
  return {
    base,
    fs,
    hostRoot: `${base}/workspace`,
    symlink: (target: string, path: string) => fs.symlink(target, path),
    [Symbol.asyncDispose]: () => Deno.remove(base, { recursive: true }),
  };
}

runFilesystemContract("LocalFilesystem", makeSandbox);

Deno.test("LocalFilesystem leaves files outside the workspace untouched through escaping links", async () => {
  await using box = await makeSandbox();
  await box.symlink("../outside/secret", "secret-link");
  await box.symlink("../outside", "out");
  await box.symlink(`${box.base}/outside/planted`, "plant");
  const attempts = [
    box.fs.writeBytes("secret-link", new TextEncoder().encode("overwritten")),
    box.fs.writeBytes("out/new", new Uint8Array([1])),
    box.fs.writeBytes("plant", new Uint8Array([1])),
    box.fs.mkdir("out/dir"),
    box.fs.remove("out/secret"),
    box.fs.readBytes("secret-link"),
  ];
  const codes = await Promise.all(
    attempts.map((p) => p.then(() => "ok", (e: unknown) => e instanceof LibosError ? e.code : e)),
  );
  assert.deepEqual(codes, ["EPERM", "EPERM", "EPERM", "EPERM", "EPERM", "EPERM"]);
  const outside = [];
  for await (const entry of Deno.readDir(`${box.base}/outside`)) outside.push(entry.name);
  assert.deepEqual(outside, ["secret"]);
  assert.equal(await Deno.readTextFile(`${box.base}/outside/secret`), "secret");
});

Deno.test("LocalFilesystem resolves a workspace that is reached through a symlink", async () => {
  await using box = await makeSandbox();
  await Deno.symlink(`${box.base}/workspace`, `${box.base}/alias`);
  const fs = new LocalFilesystem(`${box.base}/alias`);
  await fs.writeBytes("a.txt", new TextEncoder().encode("a"));
  await box.symlink(`${box.base}/workspace/a.txt`, "abs");
  assert.equal(await fs.realPath("abs"), "a.txt");
  assert.equal(await Deno.readTextFile(`${box.base}/workspace/a.txt`), "a");
});

Deno.test("LocalFilesystem reports a missing workspace as ENOENT without a host path", async () => {
  await using box = await makeSandbox();
  const fs = new LocalFilesystem(`${box.base}/nope`);
  await assert.rejects(
    fs.readBytes("a"),
    (e: unknown) => e instanceof LibosError && e.code === "ENOENT" && !e.message.includes(box.base),
  );
});

Deno.test("LocalFilesystem refuses a write when a symlink to outside is planted while it checks", async () => {
  await using box = await makeSandbox();
  /** Plants `victim` → ../outside/planted when realPath() is called for the `plantOn`-th time. */
  class Racy extends LocalFilesystem {
    #calls = 0;
    constructor(readonly plantOn: number) {
      super(`${box.base}/workspace`);
    }
    override async realPath(path: string): Promise<string> {
      const real = await super.realPath(path);
      if (++this.#calls === this.plantOn) {
        await Deno.symlink("../outside/planted", `${box.base}/workspace/${path}`);
      }
      return real;
    }
  }
  const outcomes = [];
  for (const plantOn of [1, 2, 3]) {
    await Deno.remove(`${box.base}/workspace/victim`).catch(() => {});
    const fs = new Racy(plantOn);
    const outcome = await fs.writeBytes("victim", new Uint8Array([1])).then(
      () => "written",
      (e: unknown) => (e instanceof LibosError ? e.code : String(e)),
    );
    // Written means through a rename that replaced whatever was planted,
    // never through it: the workspace holds a regular file.
    if (outcome === "written") {
      assert.ok((await Deno.lstat(`${box.base}/workspace/victim`)).isFile);
    }
    outcomes.push(outcome);
  }
  // Planted before the check of the target: refused; later (or never): replaced.
  assert.equal(outcomes[0], "EPERM");
  const outside = [];
  for await (const entry of Deno.readDir(`${box.base}/outside`)) outside.push(entry.name);
  assert.deepEqual(outside, ["secret"]);
});

Deno.test("LocalFilesystem: a write told the path was absent never follows or silently loses what appeared there since", async () => {
  await using box = await makeSandbox();
  const ws = box.hostRoot;
  const write = (path: string, text: string) =>
    box.fs.writeBytes(path, new TextEncoder().encode(text), { resolved: true, absent: true })
      .then(() => "written", (e: unknown) => (e instanceof LibosError ? e.code : String(e)));
  // Nothing there: written, and nothing else is left beside it.
  assert.equal(await write("new.txt", "new"), "written");
  assert.equal(await Deno.readTextFile(`${ws}/new.txt`), "new");
  // A symlink to outside appeared (dangling or not): refused, never followed.
  await Deno.symlink("../outside/planted", `${ws}/dangling`);
  await Deno.symlink("../outside/secret", `${ws}/live`);
  assert.equal(await write("dangling", "x"), "EPERM");
  assert.equal(await write("live", "x"), "EPERM");
  assert.ok((await Deno.lstat(`${ws}/dangling`)).isSymlink);
  assert.equal(await Deno.readTextFile(`${box.base}/outside/secret`), "secret");
  // A directory appeared: refused.
  await Deno.mkdir(`${ws}/dir`);
  assert.equal(await write("dir", "x"), "EINVAL");
  // A file appeared: replaced, as a write over a file is, keeping its mode.
  await Deno.writeTextFile(`${ws}/raced.txt`, "theirs", { mode: 0o600 });
  await Deno.chmod(`${ws}/raced.txt`, 0o600);
  assert.equal(await write("raced.txt", "ours"), "written");
  assert.equal(await Deno.readTextFile(`${ws}/raced.txt`), "ours");
  assert.equal((await Deno.stat(`${ws}/raced.txt`)).mode! & 0o777, 0o600);
  const names = [];
  for await (const entry of Deno.readDir(ws)) names.push(entry.name);
  assert.deepEqual(names.sort(), ["dangling", "dir", "live", "new.txt", "raced.txt"]);
  const outside = [];
  for await (const entry of Deno.readDir(`${box.base}/outside`)) outside.push(entry.name);
  assert.deepEqual(outside, ["secret"]);
});

Deno.test("LocalFilesystem.clearInterrupted removes only what a cut-short write of that file left", async () => {
  await using box = await makeSandbox();
  const ws = `${box.base}/workspace`;
  await Deno.mkdir(`${ws}/d`, { recursive: true });
  for (
    const name of ["x.txt.libos-0a1b2c3d.tmp", "x.txt", "y.txt.libos-0a1b2c3d.tmp", "x.txt.keep"]
  ) {
    await Deno.writeTextFile(`${ws}/d/${name}`, "z");
  }
  await new LocalFilesystem(ws).clearInterrupted("d/x.txt");
  const left = [];
  for await (const e of Deno.readDir(`${ws}/d`)) left.push(e.name);
  assert.deepEqual(left.sort(), ["x.txt", "x.txt.keep", "y.txt.libos-0a1b2c3d.tmp"]);
});

Deno.test("LocalFilesystem sees a folder swapped for a symlink between two writes (nothing resolved is kept)", async () => {
  await using box = await makeSandbox();
  const ws = `${box.base}/workspace`;
  await box.fs.writeBytes("d/a.txt", new TextEncoder().encode("a"), { createParents: true });
  assert.equal(await box.fs.realPath("d/a.txt"), "d/a.txt");
  // The folder the first write went through becomes a link to outside.
  await Deno.rename(`${ws}/d`, `${ws}/d-old`);
  await Deno.symlink("../outside", `${ws}/d`);
  const codes = await Promise.all(
    [
      box.fs.writeBytes("d/b.txt", new Uint8Array([1])),
      box.fs.realPath("d/b.txt"),
      box.fs.readBytes("d/secret"),
    ].map((p) =>
      p.then(() => "ok", (e: unknown) => (e instanceof LibosError ? e.code : String(e)))
    ),
  );
  assert.deepEqual(codes, ["EPERM", "EPERM", "EPERM"]);
  // A link that stays inside resolves to its target, through the slow walk.
  await Deno.remove(`${ws}/d`);
  await Deno.symlink("d-old", `${ws}/d`);
  assert.equal(await box.fs.realPath("d/a.txt"), "d-old/a.txt");
  const outside = [];
  for await (const entry of Deno.readDir(`${box.base}/outside`)) outside.push(entry.name);
  assert.deepEqual(outside, ["secret"]);
});
