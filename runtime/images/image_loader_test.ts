import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { hasCode, type LibosError } from "../errors.ts";
import { lineColumn, loadImageFile, parseImage, validateImage } from "./image_loader.ts";

const EXAMPLES = fileURLToPath(new URL("../../examples/images", import.meta.url));
const FIXTURES = fileURLToPath(new URL("../../tests/fixtures/images", import.meta.url));

function fixture(name: string): string {
  return join(FIXTURES, name);
}

/** Loads a file expected to be refused and returns the EINVAL error. */
async function refusal(path: string): Promise<LibosError> {
  try {
    await loadImageFile(path);
  } catch (error) {
    assert.ok(hasCode(error, "EINVAL"), `expected EINVAL, got ${String(error)}`);
    return error;
  }
  assert.fail(`'${path}' was accepted`);
}

/** Parses text expected to be refused and returns the EINVAL error. */
function refusalOf(text: string): LibosError {
  try {
    parseImage(text, { file: "inline.jsonc" });
  } catch (error) {
    assert.ok(hasCode(error, "EINVAL"), `expected EINVAL, got ${String(error)}`);
    return error;
  }
  assert.fail("the text was accepted");
}

/** The first issue as `line:column field`, with the file it names. */
function firstIssue(error: LibosError) {
  const { file, line, column, field } = error.fields;
  return { file, line, column, field };
}

Deno.test("every example image under examples/images parses", async () => {
  const names: string[] = [];
  for await (const entry of Deno.readDir(EXAMPLES)) {
    if (entry.isFile && entry.name.endsWith(".jsonc")) names.push(entry.name);
  }
  names.sort();
  for (const required of ["approval.jsonc", "coder.jsonc", "hello.jsonc", "worker.jsonc"]) {
    assert.ok(names.includes(required), `examples/images/${required} exists`);
  }
  for (const name of names) {
    const image = await loadImageFile(join(EXAMPLES, name));
    assert.equal(`${image.id}.jsonc`, name, "an example's id matches its file name");
    assert.equal(image.model.provider, "scripted");
  }
});

Deno.test("hello.jsonc reads README.md under a read grant and exits ok", async () => {
  const image = await loadImageFile(join(EXAMPLES, "hello.jsonc"));
  assert.deepEqual(image.model, {
    provider: "scripted",
    steps: [
      { tool: "read_text_file", args: { path: "README.md" } },
      { tool: "exit", args: { result: { ok: true } } },
    ],
  });
  assert.deepEqual(image.capabilities, [{ resource: "fs:README.md", rights: ["read"] }]);
});

Deno.test("coder.jsonc may write notes/** and approval.jsonc writes deploy/ under ask", async () => {
  const coder = await loadImageFile(join(EXAMPLES, "coder.jsonc"));
  assert.ok(
    coder.capabilities.some((g) => g.resource === "fs:notes/**" && g.rights.includes("write")),
  );
  const approval = await loadImageFile(join(EXAMPLES, "approval.jsonc"));
  const ask = approval.capabilities.find((g) => g.effect === "ask");
  assert.deepEqual(ask, { resource: "fs:deploy/**", rights: ["write"], effect: "ask" });
  const worker = await loadImageFile(join(EXAMPLES, "worker.jsonc"));
  const rights = worker.capabilities.flatMap((g) => g.rights);
  assert.ok(rights.every((r) => r === "read" || r === "list"), "worker grants are read-only");
});

Deno.test("parseImage applies the schema's defaults to omitted fields", () => {
  const image = parseImage(
    `{"id": "tiny", "name": "Tiny", "version": "1", "model": {"provider": "scripted", "steps": [{"tool": "exit"}]},}`,
    { file: "tiny.jsonc" },
  );
  assert.equal(image.description, "");
  assert.deepEqual(image.tools, []);
  assert.deepEqual(image.capabilities, []);
  assert.deepEqual(image.budgets, {});
  assert.deepEqual(image.memory, []);
  assert.equal(image.retention, "keep");
  assert.deepEqual(image.model, { provider: "scripted", steps: [{ tool: "exit", args: {} }] });
});

Deno.test("a retention other than keep or purge_on_exit is refused at its value, naming both", () => {
  const error = refusalOf(
    `{"id": "r", "name": "R", "version": "1",\n "model": {"provider": "scripted", "steps": []},\n "retention": "forever"}`,
  );
  assert.deepEqual(firstIssue(error), {
    file: "inline.jsonc",
    line: 3,
    column: 15,
    field: "retention",
  });
  assert.match(error.message, /3:15 retention: .*"keep".*"purge_on_exit"/);
});

Deno.test("a missing comma is refused at the next token's line and column", async () => {
  const path = fixture("missing_comma.jsonc");
  const error = await refusal(path);
  assert.deepEqual(firstIssue(error), { file: path, line: 7, column: 3, field: "(syntax)" });
  assert.equal(
    error.message,
    `Cannot load image '${path}': 7:3 (syntax): syntax error: expected a comma`,
  );
});

Deno.test("text that ends early is refused as an unexpected end of file", () => {
  const error = refusalOf(`{\n  "id": "x",\n  "name": "X"`);
  assert.deepEqual(firstIssue(error), {
    file: "inline.jsonc",
    line: 3,
    column: 14,
    field: "(syntax)",
  });
  assert.match(
    error.message,
    /^Cannot load image 'inline.jsonc': 3:14 \(syntax\): unexpected end of file/,
  );
  const empty = refusalOf("  // nothing but a comment\n");
  assert.match(empty.message, /unexpected end of file/);
});

Deno.test("a value of the wrong type is refused at the value, naming expected and received", async () => {
  const path = fixture("wrong_type.jsonc");
  const error = await refusal(path);
  assert.deepEqual(firstIssue(error), {
    file: path,
    line: 11,
    column: 17,
    field: "capabilities[1].rights",
  });
  assert.equal(
    error.message,
    `Cannot load image '${path}': 11:17 capabilities[1].rights: expected array, received string`,
  );
});

Deno.test("a missing required field is refused at its enclosing object", async () => {
  const path = fixture("missing_field.jsonc");
  const error = await refusal(path);
  assert.deepEqual(firstIssue(error), {
    file: path,
    line: 10,
    column: 7,
    field: "capabilities[1].rights",
  });
  assert.match(error.message, /10:7 capabilities\[1\]\.rights: missing required property 'rights'/);
});

Deno.test("an unknown key is refused at the key itself", async () => {
  const path = fixture("unknown_key.jsonc");
  const error = await refusal(path);
  assert.deepEqual(firstIssue(error), { file: path, line: 10, column: 8, field: "budgets.step" });
  assert.match(error.message, /10:8 budgets\.step: unknown property 'step'$/);
});

Deno.test("an unknown resource kind is refused at the resource", async () => {
  const path = fixture("unknown_kind.jsonc");
  const error = await refusal(path);
  assert.deepEqual(firstIssue(error), {
    file: path,
    line: 10,
    column: 21,
    field: "capabilities[1].resource",
  });
  assert.match(error.message, /10:21 capabilities\[1\]\.resource: unknown resource kind 'files'/);
});

Deno.test("a right that its resource kind does not have is refused at that right", async () => {
  const path = fixture("bad_right.jsonc");
  const error = await refusal(path);
  assert.deepEqual(firstIssue(error), {
    file: path,
    line: 11,
    column: 28,
    field: "capabilities[0].rights[1]",
  });
  assert.match(
    error.message,
    /11:28 capabilities\[0\]\.rights\[1\]: right 'exec' is not valid for fs resources; expected one of read, write, delete, list$/,
  );
});

Deno.test("a malformed expiresAt is refused at its value", async () => {
  const path = fixture("bad_expires.jsonc");
  const error = await refusal(path);
  assert.deepEqual(firstIssue(error), {
    file: path,
    line: 12,
    column: 22,
    field: "capabilities[0].expiresAt",
  });
  assert.match(
    error.message,
    /12:22 capabilities\[0\]\.expiresAt: expected an ISO 8601 date-time.*received "next tuesday"$/,
  );
});

Deno.test("a seed object name used twice is refused at the second name", async () => {
  const path = fixture("duplicate_memory.jsonc");
  const error = await refusal(path);
  assert.deepEqual(firstIssue(error), {
    file: path,
    line: 11,
    column: 31,
    field: "memory[2].name",
  });
  assert.match(
    error.message,
    /11:31 memory\[2\]\.name: duplicate seed object name 'plan' \(first in memory\[0\]\)$/,
  );
});

Deno.test("every issue is reported, one per line, in file order", async () => {
  const path = fixture("many_issues.jsonc");
  const error = await refusal(path);
  const lines = error.message.split("\n");
  assert.equal(lines.length, 3);
  assert.match(
    lines[0]!,
    new RegExp(`^Cannot load image '${path}': 4:9 id: expected a lower-case id`),
  );
  assert.equal(lines[1], "7:74 model.steps[0].args: expected record, received array");
  assert.equal(
    lines[2],
    "8:64 capabilities[0].rights[0]: right 'read' is not valid for net resources; expected one of fetch",
  );
  assert.deepEqual(firstIssue(error), { file: path, line: 4, column: 9, field: "id" });
  assert.equal((error.fields.issues as unknown[]).length, 3);
});

Deno.test("a non-scripted model is checked against the provider branch of the union", () => {
  const error = refusalOf(
    `{"id": "x", "name": "X", "version": "1",\n "model": {"provider": "openai"}}`,
  );
  assert.deepEqual(firstIssue(error), {
    file: "inline.jsonc",
    line: 2,
    column: 11,
    field: "model.name",
  });
  assert.match(
    error.message,
    /2:11 model\.name: missing required property 'name' \(expected string\)$/,
  );
});

Deno.test("bare proc, tool, image and checkpoint resources are accepted; a bare fs is not", () => {
  const image = (grants: string) =>
    `{"id": "x", "name": "X", "version": "1", "model": {"provider": "scripted", "steps": []},\n"capabilities": ${grants}}`;
  const accepted = parseImage(
    image(
      `[{"resource": "proc", "rights": ["spawn"]}, {"resource": "tool", "rights": ["register"]},` +
        `{"resource": "image", "rights": ["register"]}, {"resource": "checkpoint", "rights": ["create", "restore", "export"]}]`,
    ),
    { file: "bare.jsonc" },
  );
  assert.equal(accepted.capabilities.length, 4);
  const error = refusalOf(image(`[{"resource": "fs", "rights": ["read"]}]`));
  assert.deepEqual(firstIssue(error), {
    file: "inline.jsonc",
    line: 2,
    column: 31,
    field: "capabilities[0].resource",
  });
  assert.match(error.message, /resource 'fs' needs a pattern after 'fs:'/);
});

Deno.test("an object key written twice is refused at the second key", () => {
  const error = refusalOf(
    `{"id": "x", "name": "X", "version": "1",\n  "id": "y", "model": {"provider": "scripted", "steps": []}}`,
  );
  assert.deepEqual(firstIssue(error), { file: "inline.jsonc", line: 2, column: 3, field: "id" });
  assert.match(error.message, /2:3 id: duplicate property 'id' \(first at 1:2\)$/);
});

Deno.test("a __proto__ key is an unknown property, not a prototype", () => {
  const error = refusalOf(
    `{"id": "x", "name": "X", "version": "1", "model": {"provider": "scripted", "steps": []}, "__proto__": {"id": 1}}`,
  );
  assert.equal(error.fields.field, "__proto__");
  assert.match(error.message, /1:90 __proto__: unknown property '__proto__'$/);
});

Deno.test("a missing image file is ENOENT naming the path as given", async () => {
  const path = fixture("no_such_image.jsonc");
  await assert.rejects(loadImageFile(path), (error: unknown) => {
    assert.ok(hasCode(error, "ENOENT"));
    assert.equal(error.message, `Cannot load image '${path}': no such file`);
    assert.equal(error.fields.file, path);
    return true;
  });
});

Deno.test("validateImage applies the same rules to a value, without positions", () => {
  assert.throws(
    () =>
      validateImage({
        id: "x",
        name: "X",
        version: "1",
        model: { provider: "scripted", steps: [] },
        capabilities: [{ resource: "shell:git", rights: ["exec", "fetch"] }],
      }, { source: "request" }),
    (error: unknown) => {
      assert.ok(hasCode(error, "EINVAL"));
      assert.equal(
        error.message,
        "Cannot load image 'request': capabilities[0].rights[1]: right 'fetch' is not valid for shell resources; expected one of exec",
      );
      assert.equal(error.fields.line, undefined);
      return true;
    },
  );
  const image = validateImage({
    id: "x",
    name: "X",
    version: "1",
    model: { provider: "anthropic", name: "claude" },
  });
  assert.deepEqual(image.model, { provider: "anthropic", name: "claude" });
});

Deno.test("lineColumn counts 1-based lines and columns across \\n, \\r\\n and \\r", () => {
  const text = "ab\ncd\r\nef\rgh";
  assert.deepEqual(lineColumn(text, 0), { line: 1, column: 1 });
  assert.deepEqual(lineColumn(text, 2), { line: 1, column: 3 });
  assert.deepEqual(lineColumn(text, 3), { line: 2, column: 1 });
  assert.deepEqual(lineColumn(text, 7), { line: 3, column: 1 });
  assert.deepEqual(lineColumn(text, 10), { line: 4, column: 1 });
  assert.deepEqual(lineColumn(text, 99), { line: 4, column: 3 });
});
