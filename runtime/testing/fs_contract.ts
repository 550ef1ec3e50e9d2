/**
 * The one contract suite every {@linkcode FilesystemProvider} passes. A test
 * file calls {@linkcode runFilesystemContract} with a factory of fresh
 * workspaces; the suite registers its tests with `Deno.test`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { LibosError } from "../errors.ts";
import type { FilesystemProvider } from "../substrate/fs_provider.ts";

/** A fresh, empty workspace for one test. */
export interface FilesystemFixture extends AsyncDisposable {
  fs: FilesystemProvider;
  /** The real absolute host path of the workspace root (for absolute symlinks that stay inside). */
  hostRoot: string;
  /** Creates a symlink at workspace path `path` pointing to `target`, written as given. */
  symlink(target: string, path: string): Promise<void>;
}

const _encoder = new TextEncoder();
const _decoder = new TextDecoder();

/** Registers the filesystem contract tests for one implementation, named `<name>: …`. */
export function runFilesystemContract(
  name: string,
  create: () => Promise<FilesystemFixture>,
): void {
  const test = (title: string, fn: (fixture: FilesystemFixture) => Promise<void>) =>
    Deno.test(`${name}: ${title}`, async () => {
      await using fixture = await create();
      await fn(fixture);
    });

  /** Asserts a typed rejection that names the workspace path and never a host path. */
  const rejects = async (
    fixture: FilesystemFixture,
    promise: Promise<unknown>,
    code: string,
    path?: string,
  ) => {
    let caught: unknown = undefined;
    try {
      await promise;
    } catch (error) {
      caught = error;
    }
    assert.ok(caught instanceof LibosError, `expected ${code}, got ${String(caught)}`);
    assert.equal(caught.code, code, caught.message);
    assert.ok(!caught.message.includes(fixture.hostRoot), `host path leaked: ${caught.message}`);
    if (path !== undefined) assert.equal(caught.fields.path, path);
  };

  const write = (fs: FilesystemProvider, path: string, text: string) =>
    fs.writeBytes(path, _encoder.encode(text));
  const read = async (fs: FilesystemProvider, path: string) =>
    _decoder.decode(await fs.readBytes(path));

  test("readBytes() returns what writeBytes() wrote, and a rewrite replaces it", async ({ fs }) => {
    await write(fs, "a.txt", "hello");
    assert.equal(await read(fs, "a.txt"), "hello");
    await write(fs, "a.txt", "bye");
    assert.equal(await read(fs, "a.txt"), "bye");
  });

  test("writeBytes() keeps a copy of the caller's bytes", async ({ fs }) => {
    const data = _encoder.encode("abc");
    await fs.writeBytes("a.bin", data);
    data[0] = 0x7a;
    assert.equal(await read(fs, "a.bin"), "abc");
    const back = await fs.readBytes("a.bin");
    back[0] = 0x7a;
    assert.equal(await read(fs, "a.bin"), "abc");
  });

  test("writeBytes() needs the parent unless createParents is set", async (fixture) => {
    const { fs } = fixture;
    await rejects(fixture, write(fs, "d/e/f.txt", "x"), "ENOENT", "d/e/f.txt");
    await fs.writeBytes("d/e/f.txt", _encoder.encode("x"), { createParents: true });
    assert.equal(await read(fs, "d/e/f.txt"), "x");
    assert.equal((await fs.stat("d/e"))?.kind, "dir");
  });

  test("writeBytes() refuses a directory and a file used as a directory", async (fixture) => {
    const { fs } = fixture;
    await fs.mkdir("d");
    await rejects(fixture, write(fs, "d", "x"), "EINVAL", "d");
    await rejects(fixture, write(fs, "", "x"), "EINVAL");
    await write(fs, "f", "x");
    await rejects(fixture, write(fs, "f/g", "x"), "EINVAL", "f/g");
    await rejects(
      fixture,
      fs.writeBytes("f/g/h", _encoder.encode("x"), { createParents: true }),
      "EINVAL",
    );
  });

  test("readBytes() reports ENOENT for a missing file and EINVAL for a directory", async (fixture) => {
    const { fs } = fixture;
    await rejects(fixture, fs.readBytes("missing.txt"), "ENOENT", "missing.txt");
    await fs.mkdir("d");
    await rejects(fixture, fs.readBytes("d"), "EINVAL", "d");
  });

  test("list() returns the entries sorted by name with kinds and sizes", async (fixture) => {
    const { fs } = fixture;
    await write(fs, "b.txt", "12345");
    await fs.mkdir("a");
    await write(fs, "C.md", "");
    await fixture.symlink("b.txt", "link");
    assert.deepEqual(await fs.list(""), [
      { name: "C.md", kind: "file", size: 0 },
      { name: "a", kind: "dir", size: 0 },
      { name: "b.txt", kind: "file", size: 5 },
      { name: "link", kind: "symlink", size: 0 },
    ]);
    assert.deepEqual(await fs.list("a"), []);
    await rejects(fixture, fs.list("missing"), "ENOENT", "missing");
    await rejects(fixture, fs.list("b.txt"), "EINVAL", "b.txt");
  });

  test("stat() reports files, directories and symlinks themselves, and null when absent", async (fixture) => {
    const { fs } = fixture;
    await write(fs, "f.txt", "abc");
    await fs.mkdir("d");
    await fixture.symlink("f.txt", "l");
    const file = await fs.stat("f.txt");
    assert.deepEqual([file?.kind, file?.size], ["file", 3]);
    assert.ok(typeof file?.mtimeMs === "number" && file.mtimeMs > 0);
    assert.equal((await fs.stat("d"))?.kind, "dir");
    assert.equal((await fs.stat(""))?.kind, "dir");
    assert.deepEqual([(await fs.stat("l"))?.kind, (await fs.stat("l"))?.size], ["symlink", 0]);
    assert.equal(await fs.stat("missing"), null);
    assert.equal(await fs.stat("missing/deeper"), null);
    assert.equal(await fs.stat("f.txt/under-a-file"), null);
  });

  test("mkdir() creates, refuses an existing path, and is idempotent when recursive", async (fixture) => {
    const { fs } = fixture;
    await fs.mkdir("d");
    await rejects(fixture, fs.mkdir("d"), "EEXIST", "d");
    await fs.mkdir("d", { recursive: true });
    await rejects(fixture, fs.mkdir("x/y"), "ENOENT", "x/y");
    await fs.mkdir("x/y/z", { recursive: true });
    assert.equal((await fs.stat("x/y/z"))?.kind, "dir");
    await write(fs, "f", "");
    await rejects(fixture, fs.mkdir("f"), "EEXIST", "f");
    await rejects(fixture, fs.mkdir("f", { recursive: true }), "EEXIST", "f");
    await rejects(fixture, fs.mkdir("f/g"), "EINVAL", "f/g");
    await rejects(fixture, fs.mkdir("f/g/h", { recursive: true }), "EINVAL", "f/g/h");
  });

  test("remove() deletes files and empty directories, and whole trees when recursive", async (fixture) => {
    const { fs } = fixture;
    await write(fs, "f", "x");
    await fs.remove("f");
    assert.equal(await fs.stat("f"), null);
    await rejects(fixture, fs.remove("f"), "ENOENT", "f");
    await fs.mkdir("e");
    await fs.remove("e");
    assert.equal(await fs.stat("e"), null);
    await fs.writeBytes("t/u/v", _encoder.encode("x"), { createParents: true });
    await rejects(fixture, fs.remove("t"), "EINVAL", "t");
    await fs.remove("t", { recursive: true });
    assert.equal(await fs.stat("t"), null);
    await rejects(fixture, fs.remove(""), "EINVAL");
  });

  test("remove() of a symlink removes the link and keeps its target", async ({ fs, symlink }) => {
    await fs.mkdir("d");
    await write(fs, "d/keep.txt", "kept");
    await symlink("d", "l");
    await fs.remove("l", { recursive: true });
    assert.equal(await fs.stat("l"), null);
    assert.equal(await read(fs, "d/keep.txt"), "kept");
  });

  test("paths are validated: '..' above the root is EPERM, absolute paths EINVAL", async (fixture) => {
    const { fs } = fixture;
    await rejects(fixture, fs.readBytes("../x"), "EPERM");
    await rejects(fixture, fs.readBytes("/etc/passwd"), "EINVAL");
    await rejects(fixture, fs.writeBytes("a\u0000b", new Uint8Array()), "EINVAL");
  });

  test("realPath() returns plain and not-yet-existing paths unchanged", async ({ fs }) => {
    await fs.mkdir("d");
    assert.equal(await fs.realPath(""), "");
    assert.equal(await fs.realPath("d"), "d");
    assert.equal(await fs.realPath("d/new/file.txt"), "d/new/file.txt");
  });

  test("realPath() follows symlinks inside the workspace", async ({ fs, symlink, hostRoot }) => {
    await fs.writeBytes("src/lib/a.ts", _encoder.encode("a"), { createParents: true });
    await symlink("src/lib", "lib");
    await symlink("../src/lib/a.ts", "src/up");
    await symlink("lib", "chain");
    await symlink(`${hostRoot}/src`, "abs");
    await symlink(".", "self");
    await symlink("src/missing.ts", "dangling");
    assert.deepEqual(
      await Promise.all(
        ["lib", "lib/a.ts", "src/up", "chain/a.ts", "abs/lib", "self/self/lib", "dangling"].map(
          (p) => fs.realPath(p),
        ),
      ),
      [
        "src/lib",
        "src/lib/a.ts",
        "src/lib/a.ts",
        "src/lib/a.ts",
        "src/lib",
        "src/lib",
        "src/missing.ts",
      ],
    );
    assert.equal(await read(fs, "chain/a.ts"), "a");
    assert.deepEqual((await fs.list("lib")).map((e) => e.name), ["a.ts"]);
  });

  test("writeBytes() through a symlink inside writes its target, even a dangling one", async ({ fs, symlink }) => {
    await fs.mkdir("d");
    await symlink("d/target.txt", "link");
    await write(fs, "link", "through");
    assert.equal(await read(fs, "d/target.txt"), "through");
    assert.equal((await fs.stat("link"))?.kind, "symlink");
  });

  test("realPath() refuses symlinks that escape the workspace with EPERM", async (fixture) => {
    const { fs, symlink } = fixture;
    await symlink("../outside", "up");
    await symlink("/", "abs-root");
    await symlink("../nonexistent-libos-outside/x", "dangling-up");
    await symlink("/nonexistent-libos-outside/x", "dangling-abs");
    await fs.mkdir("d");
    await symlink("../..", "d/escape");
    await symlink("missing/../../..", "via-missing");
    for (
      const path of [
        "up",
        "up/secret",
        "abs-root",
        "abs-root/etc/passwd",
        "dangling-up",
        "dangling-abs",
        "d/escape",
        "d/escape/x",
        "via-missing",
      ]
    ) {
      await rejects(fixture, fs.realPath(path), "EPERM", path);
    }
  });

  test("operations through an escaping symlink are refused before touching anything", async (fixture) => {
    const { fs, symlink } = fixture;
    await symlink("../outside", "up");
    await symlink("/nonexistent-libos-outside/new.txt", "dangling-abs");
    await rejects(fixture, fs.readBytes("up/secret"), "EPERM");
    await rejects(fixture, write(fs, "up/planted", "x"), "EPERM");
    await rejects(fixture, write(fs, "dangling-abs", "x"), "EPERM");
    await rejects(fixture, fs.list("up"), "EPERM");
    await rejects(fixture, fs.mkdir("up/d", { recursive: true }), "EPERM");
    await rejects(fixture, fs.remove("up/secret"), "EPERM");
    await rejects(fixture, fs.stat("up/secret"), "EPERM");
    // The links themselves are inside and may be looked at and removed.
    assert.equal((await fs.stat("up"))?.kind, "symlink");
    await fs.remove("dangling-abs");
    assert.equal(await fs.stat("dangling-abs"), null);
  });

  test("realPath() refuses a symlink loop with EINVAL", async (fixture) => {
    await fixture.symlink("b", "a");
    await fixture.symlink("a", "b");
    await rejects(fixture, fixture.fs.realPath("a/x"), "EINVAL");
  });
}
