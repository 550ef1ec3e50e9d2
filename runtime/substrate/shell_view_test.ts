import assert from "node:assert/strict";
import { join } from "node:path";
import { decide } from "../capability/capability.ts";
import { LibosError } from "../errors.ts";
import {
  checkViewEntries,
  computeShellView,
  type ShellViewDecide,
  type ViewEntry,
  viewMountArgs,
} from "./shell_view.ts";
import type { Grant } from "../types.ts";

/** A workspace: pub/readme.txt, secret/key.txt, top.txt. */
async function workspace(): Promise<{ root: string } & AsyncDisposable> {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "libos_view_" }));
  await Deno.mkdir(join(root, "pub"));
  await Deno.mkdir(join(root, "secret"));
  await Deno.writeTextFile(join(root, "pub", "readme.txt"), "read me\n");
  await Deno.writeTextFile(join(root, "secret", "key.txt"), "the key\n");
  await Deno.writeTextFile(join(root, "top.txt"), "top\n");
  return {
    root,
    async [Symbol.asyncDispose]() {
      await Deno.remove(root, { recursive: true });
    },
  };
}

type GrantSketch = Pick<Grant, "id" | "resource" | "rights" | "effect"> & Partial<Grant>;

/** The kernel's decision rule over the given grants. */
function decider(sketches: GrantSketch[]): ShellViewDecide {
  const grants: Grant[] = sketches.map((g) => ({
    subject: "p_1",
    uses: null,
    expiresAt: null,
    delegable: false,
    parentId: null,
    issuedBy: "operator:test",
    revoked: false,
    createdAt: 0,
    ...g,
  }));
  return (resource, right) => decide(grants, resource, right, 1);
}

const dir = (path: string, mode: ViewEntry["mode"]): ViewEntry => ({ path, mode, kind: "dir" });
const file = (path: string, mode: ViewEntry["mode"]): ViewEntry => ({ path, mode, kind: "file" });

Deno.test("fs:** read with fs:secret/** denied: secret is hidden, the rest read-only", async () => {
  await using ws = await workspace();
  const view = await computeShellView({
    workspace: ws.root,
    cwd: "",
    decide: decider([
      { id: "g1", resource: "fs:**", rights: ["read"], effect: "allow" },
      { id: "g2", resource: "fs:secret/**", rights: ["read", "write"], effect: "deny" },
    ]),
  });
  assert.deepEqual(view, {
    entries: [dir("", "ro"), dir("pub", "ro"), dir("secret", "hidden"), file("top.txt", "ro")],
    gating: [],
    walked: 6,
  });
});

Deno.test("fs:* read and write covers the top level only: deeper files are hidden, and nothing can be created below it", async () => {
  await using ws = await workspace();
  const view = await computeShellView({
    workspace: ws.root,
    cwd: "",
    decide: decider([{ id: "g1", resource: "fs:*", rights: ["read", "write"], effect: "allow" }]),
  });
  assert.deepEqual(view.entries, [
    dir("", "rw"),
    // `fs:*` covers `pub` itself, not a new file inside it: read-only.
    dir("pub", "ro"),
    file("pub/readme.txt", "hidden"),
    dir("secret", "ro"),
    file("secret/key.txt", "hidden"),
    file("top.txt", "rw"),
  ]);
});

Deno.test("a uniform subtree is one entry; write without read is hidden", async () => {
  await using ws = await workspace();
  const whole = await computeShellView({
    workspace: ws.root,
    cwd: "",
    decide: decider([{ id: "g1", resource: "fs:**", rights: ["read", "write"], effect: "allow" }]),
  });
  assert.deepEqual(whole.entries, [dir("", "rw")]);
  const writeOnly = await computeShellView({
    workspace: ws.root,
    cwd: "",
    decide: decider([
      { id: "g1", resource: "fs:**", rights: ["read"], effect: "allow" },
      { id: "g2", resource: "fs:pub/**", rights: ["write"], effect: "allow" },
      { id: "g3", resource: "fs:pub/**", rights: ["read"], effect: "deny" },
    ]),
  });
  assert.deepEqual(writeOnly.entries, [
    dir("", "ro"),
    dir("pub", "hidden"),
    dir("secret", "ro"),
    file("top.txt", "ro"),
  ]);
});

Deno.test("a counted grant and an ask grant are both reported as gating, once each", async () => {
  await using ws = await workspace();
  const decide = decider([
    { id: "g_uses", resource: "fs:.", rights: ["read"], effect: "allow", uses: 1 },
    { id: "g_ask", resource: "fs:secret/**", rights: ["read"], effect: "ask" },
    // Consulted where read is gated, so one round of asking settles the view.
    { id: "g_write", resource: "fs:secret/**", rights: ["write"], effect: "ask" },
    { id: "g_pub", resource: "fs:pub/**", rights: ["read"], effect: "allow" },
    // Never consulted: write is not asked where read is denied outright.
    { id: "g_top", resource: "fs:top.txt", rights: ["write"], effect: "ask" },
  ]);
  const view = await computeShellView({ workspace: ws.root, cwd: "", decide });
  assert.deepEqual(view.gating, [
    { grantId: "g_uses", resource: "fs:.", reason: "uses" },
    { grantId: "g_ask", resource: "fs:secret/**", reason: "ask" },
    { grantId: "g_write", resource: "fs:secret/**", reason: "ask" },
  ]);
  assert.deepEqual(view.entries, [
    dir("", "hidden"),
    dir("pub", "ro"),
    dir("secret", "hidden"),
    file("top.txt", "hidden"),
  ]);
  // Once the kernel has asked for and spent them, the same grants allow.
  const granted = await computeShellView({
    workspace: ws.root,
    cwd: "",
    decide,
    granted: new Set(["g_uses", "g_ask", "g_write"]),
  });
  assert.deepEqual(granted.gating, []);
  assert.deepEqual(granted.entries, [
    dir("", "ro"),
    dir("pub", "ro"),
    dir("secret", "rw"),
    file("top.txt", "hidden"),
  ]);
});

Deno.test("a symlink is judged as its target inside the cwd subtree, hidden elsewhere", async () => {
  await using ws = await workspace();
  await Deno.symlink("../top.txt", join(ws.root, "pub", "to_top"));
  await Deno.symlink("../secret", join(ws.root, "pub", "to_secret"));
  await Deno.symlink("/etc/passwd", join(ws.root, "pub", "to_etc"));
  await Deno.symlink("missing", join(ws.root, "pub", "dangling"));
  const view = await computeShellView({
    workspace: ws.root,
    cwd: "",
    decide: decider([
      { id: "g1", resource: "fs:**", rights: ["read"], effect: "allow" },
      { id: "g2", resource: "fs:secret/**", rights: ["read"], effect: "deny" },
    ]),
  });
  assert.deepEqual(view.entries, [
    dir("", "ro"),
    dir("pub", "ro"),
    file("pub/dangling", "hidden"),
    file("pub/readme.txt", "ro"),
    file("pub/to_etc", "hidden"),
    dir("pub/to_secret", "hidden"),
    file("pub/to_top", "ro"),
    dir("secret", "hidden"),
    file("top.txt", "ro"),
  ]);
  // From the cwd `pub`, top.txt lies outside the subtree: the link to it is hidden.
  const fromPub = await computeShellView({
    workspace: ws.root,
    cwd: "pub",
    decide: decider([{ id: "g1", resource: "fs:**", rights: ["read"], effect: "allow" }]),
  });
  assert.deepEqual(fromPub.entries, [
    dir("pub", "ro"),
    file("pub/dangling", "hidden"),
    file("pub/readme.txt", "ro"),
    file("pub/to_etc", "hidden"),
    file("pub/to_secret", "hidden"),
    file("pub/to_top", "hidden"),
  ]);
});

Deno.test("the walk is bounded: past maxEntries it fails with ELIMIT naming the cwd", async () => {
  await using ws = await workspace();
  const decide = decider([{ id: "g1", resource: "fs:**", rights: ["read"], effect: "allow" }]);
  const error = await computeShellView({ workspace: ws.root, cwd: "", decide, maxEntries: 3 })
    .then(() => null, (e: unknown) => e);
  assert.ok(error instanceof LibosError);
  assert.equal(error.code, "ELIMIT");
  assert.match(error.message, /Cannot view '\.'.*more than 3 entries/);
  const exact = await computeShellView({ workspace: ws.root, cwd: "", decide, maxEntries: 6 });
  assert.equal(exact.walked, 6);
});

Deno.test("a cwd that is missing, a file or not a real path is refused", async () => {
  await using ws = await workspace();
  await Deno.symlink("pub", join(ws.root, "alias"));
  const decide = decider([]);
  const codes = [];
  for (const cwd of ["missing", "top.txt", "alias", "../x"]) {
    const error = await computeShellView({ workspace: ws.root, cwd, decide })
      .then(() => null, (e: unknown) => e);
    codes.push(error instanceof LibosError ? error.code : String(error));
  }
  assert.deepEqual(codes, ["ENOENT", "EINVAL", "EINVAL", "EINVAL"]);
});

Deno.test("viewMountArgs mounts from the top: binds, tmpfs for hidden dirs, /dev/null for hidden files", async () => {
  await using ws = await workspace();
  await Deno.mkdir(join(ws.root, "secret", "inner"));
  await Deno.writeTextFile(join(ws.root, "secret", "inner", "ok.txt"), "ok\n");
  const entries = [
    dir("", "ro"),
    file("top.txt", "hidden"),
    dir("secret", "hidden"),
    dir("secret/inner", "rw"),
    file("secret/key.txt", "hidden"),
    dir("pub", "rw"),
  ];
  const args = await viewMountArgs(entries, { workspace: ws.root, cwd: "" });
  assert.deepEqual(args, [
    ...["--ro-bind", ws.root, "/workspace"],
    ...["--ro-bind", "/dev/null", "/workspace/top.txt"],
    ...["--tmpfs", "/workspace/secret"],
    ...["--bind", join(ws.root, "pub"), "/workspace/pub"],
    ...["--bind", join(ws.root, "secret", "inner"), "/workspace/secret/inner"],
    ...["--remount-ro", "/workspace/secret"],
  ]);
  // A hidden cwd is an empty read-only tmpfs.
  const hidden = await viewMountArgs([dir("pub", "hidden")], { workspace: ws.root, cwd: "pub" });
  assert.deepEqual(hidden, ["--tmpfs", "/workspace/pub", "--remount-ro", "/workspace/pub"]);
});

Deno.test("viewMountArgs refuses a bound entry that now leads elsewhere", async () => {
  await using ws = await workspace();
  await Deno.remove(join(ws.root, "pub"), { recursive: true });
  await Deno.symlink("/etc", join(ws.root, "pub"));
  const args = await viewMountArgs([dir("", "hidden"), dir("pub", "ro")], {
    workspace: ws.root,
    cwd: "",
  });
  // The symlink itself is not mounted: under a hidden root it does not exist.
  assert.deepEqual(args, ["--tmpfs", "/workspace", "--remount-ro", "/workspace"]);
  const error = await viewMountArgs([
    dir("", "hidden"),
    dir("pub", "hidden"),
    file("pub/passwd", "ro"),
  ], {
    workspace: ws.root,
    cwd: "",
  }).then(() => null, (e: unknown) => e);
  assert.ok(error instanceof LibosError);
  assert.equal(error.code, "EPERM");
});

Deno.test("checkViewEntries refuses malformed views", () => {
  const cases: Array<[ViewEntry[], string]> = [
    [[], "no entry for the working directory"],
    [[dir("a", "ro"), dir("a", "ro")], "listed twice"],
    [[dir("a", "ro"), dir("b", "ro")], "outside the working directory"],
    [[dir("a", "ro"), file("a/b/c", "ro")], "parent 'a/b' is not listed"],
    [[dir("a", "ro"), file("a/../b", "ro")], "normalised"],
    [[dir("a", "xx" as "ro")], "mode"],
  ];
  for (const [entries, message] of cases) {
    assert.throws(() => checkViewEntries(entries, "a"), (error: unknown) => {
      assert.ok(error instanceof LibosError);
      assert.equal(error.code, "EINVAL");
      assert.ok(error.message.includes(message), error.message);
      return true;
    });
  }
  assert.deepEqual(
    checkViewEntries([file("a/b/c", "ro"), dir("a/b", "hidden"), dir("a", "ro")], "a").map((e) =>
      e.path
    ),
    ["a", "a/b", "a/b/c"],
  );
});
