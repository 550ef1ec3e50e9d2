import assert from "node:assert/strict";
import { LibosError } from "../errors.ts";
import { fsResource, MAX_PATH_LENGTH, resolvePath } from "./workspace_path.ts";

function refused(cwd: string, input: string): { code: string; path: unknown } {
  try {
    resolvePath(cwd, input);
  } catch (error) {
    assert.ok(error instanceof LibosError, String(error));
    return { code: error.code, path: error.fields.path };
  }
  assert.fail(`resolvePath(${JSON.stringify(cwd)}, ${JSON.stringify(input)}) did not throw`);
}

Deno.test("resolvePath() normalises dots and repeated slashes", () => {
  const table: [string, string, string][] = [
    ["", "a/./b//c", "a/b/c"],
    ["", "./a/", "a"],
    ["", ".", ""],
    ["", "", ""],
    ["", "a/b/../c", "a/c"],
    ["", "a/..", ""],
    ["src", "a.ts", "src/a.ts"],
    ["src", "", "src"],
    ["src/lib", "../a.ts", "src/a.ts"],
    ["src/lib", "../../README.md", "README.md"],
    ["src", "./x/../y", "src/y"],
    ["", "...", "..."],
    ["", "a..b/.c", "a..b/.c"],
    ["", "~/x", "~/x"],
    ["", "a b/c*d?", "a b/c*d?"],
  ];
  assert.deepEqual(
    table.map(([cwd, input]) => resolvePath(cwd, input)),
    table.map(([, , expected]) => expected),
  );
});

Deno.test("resolvePath() gives composed and decomposed unicode the same path", () => {
  const composed = resolvePath("", "caf\u00e9/menu.txt");
  const decomposed = resolvePath("", "cafe\u0301/menu.txt");
  assert.equal(composed, decomposed);
  assert.equal(composed, "caf\u00e9/menu.txt");
  assert.equal(resolvePath("cafe\u0301", "x"), "caf\u00e9/x");
});

Deno.test("resolvePath() refuses a '..' that climbs above the workspace with EPERM", () => {
  assert.deepEqual(refused("", ".."), { code: "EPERM", path: ".." });
  assert.deepEqual(refused("", "a/../../x"), { code: "EPERM", path: "a/../../x" });
  assert.deepEqual(refused("src", "../../etc/passwd"), { code: "EPERM", path: "../../etc/passwd" });
});

Deno.test("resolvePath() refuses absolute paths, backslashes and control characters with EINVAL", () => {
  const inputs = [
    "/etc/passwd",
    "C:\\",
    "c:/windows",
    "\\\\server\\share",
    "a\\b",
    "a\u0000b",
    "a\nb",
    "\u001b[31mred",
    "a\u007f",
    "a\u202eb",
  ];
  assert.deepEqual(
    inputs.map((input) => refused("", input)),
    inputs.map((input) => ({ code: "EINVAL", path: input })),
  );
  assert.equal(refused("/abs", "x").code, "EINVAL");
});

Deno.test("resolvePath() refuses a path longer than the limit", () => {
  assert.equal(resolvePath("", "a".repeat(MAX_PATH_LENGTH)).length, MAX_PATH_LENGTH);
  assert.equal(refused("", "a".repeat(MAX_PATH_LENGTH + 1)).code, "EINVAL");
});

Deno.test("fsResource() names the root 'fs:.' and every other path 'fs:<path>'", () => {
  assert.equal(fsResource(""), "fs:.");
  assert.equal(fsResource("src/a.ts"), "fs:src/a.ts");
});
