import assert from "node:assert/strict";
import { hasCode } from "../errors.ts";
import { ImageRegistry } from "./image_registry.ts";
import type { AgentImage } from "./schemas.ts";
import type { ImageRecord } from "../types.ts";

function image(id: string, version: string, systemPrompt = ""): AgentImage {
  return {
    id,
    name: id,
    version,
    description: "",
    systemPrompt,
    model: { provider: "scripted", steps: [{ tool: "exit", args: { result: { ok: true } } }] },
    tools: ["exit"],
    capabilities: [{ resource: "fs:README.md", rights: ["read"] }],
    budgets: { steps: 3 },
    memory: [],
    retention: "keep",
    mcp: {},
  };
}

function record(id: string, version: string, registeredAt: number): ImageRecord {
  return { id, version, source: `${id}.jsonc`, image: image(id, version), registeredAt };
}

Deno.test("register() stores a record with its source and time, and get() returns it", () => {
  const images = new ImageRegistry();
  const stored = images.register(image("hello", "1.0.0"), { source: "hello.jsonc", now: 1000 });
  assert.deepEqual(stored, {
    id: "hello",
    version: "1.0.0",
    source: "hello.jsonc",
    image: image("hello", "1.0.0"),
    registeredAt: 1000,
  });
  assert.equal(images.get("hello"), stored);
  assert.equal(images.get("hello", "1.0.0"), stored);
  assert.equal(images.has("hello"), true);
  assert.equal(images.has("coder"), false);
  assert.equal(images.register(image("bare", "1"), { now: 5 }).source, null);
});

Deno.test("register() keeps its own copy, so a later edit of the caller's image changes nothing", () => {
  const images = new ImageRegistry();
  const mine = image("hello", "1");
  images.register(mine, { now: 1 });
  mine.tools.push("run_shell");
  assert.deepEqual(images.get("hello").image.tools, ["exit"]);
});

Deno.test("re-registering the same id, version and content is a no-op returning the first record", () => {
  const images = new ImageRegistry();
  const first = images.register(image("hello", "1"), { source: "a.jsonc", now: 1 });
  images.register(image("hello", "2"), { now: 2 });
  const reordered = { ...image("hello", "1") };
  const again = images.register(
    Object.fromEntries(Object.entries(reordered).reverse()) as AgentImage,
    { source: "b.jsonc", now: 3 },
  );
  assert.equal(again, first);
  assert.equal(images.get("hello").version, "2", "the no-op does not make 1 current again");
});

Deno.test("re-registering a version with different content is EEXIST", () => {
  const images = new ImageRegistry();
  images.register(image("hello", "1", "be brief"), { now: 1 });
  assert.throws(
    () => images.register(image("hello", "1", "be verbose"), { now: 2 }),
    (error: unknown) => {
      assert.ok(hasCode(error, "EEXIST"));
      assert.match(
        error.message,
        /^Cannot register image 'hello@1': version 1 is registered already/,
      );
      return true;
    },
  );
  assert.equal(images.get("hello").image.systemPrompt, "be brief");
});

Deno.test("a new version becomes current while every older version stays retrievable", () => {
  const images = new ImageRegistry();
  images.register(image("coder", "1.0.0"), { now: 1 });
  images.register(image("coder", "2.0.0"), { now: 2 });
  images.register(image("coder", "1.5.0"), { now: 3 });
  assert.equal(images.get("coder").version, "1.5.0", "the latest registration is current");
  assert.equal(images.get("coder", "2.0.0").version, "2.0.0");
  assert.equal(images.get("coder", "1.0.0").version, "1.0.0");
  assert.deepEqual(images.versions("coder").map((r) => r.version), ["1.0.0", "2.0.0", "1.5.0"]);
  assert.deepEqual(images.list().map((r) => r.version), ["1.5.0"]);
});

Deno.test("list() gives the current version of each image, sorted by id", () => {
  const images = new ImageRegistry();
  images.register(image("worker", "1"), { now: 1 });
  images.register(image("approval", "1"), { now: 2 });
  images.register(image("hello", "1"), { now: 3 });
  images.register(image("approval", "2"), { now: 4 });
  assert.deepEqual(
    images.list().map((r) => `${r.id}@${r.version}`),
    ["approval@2", "hello@1", "worker@1"],
  );
});

Deno.test("get() of an unknown id is ENOENT listing the known ids when there are few", () => {
  const images = new ImageRegistry();
  assert.throws(() => images.get("hello"), {
    code: "ENOENT",
    message: "Cannot find image 'hello': no such image; no images are registered",
  });
  images.register(image("worker", "1"), { now: 1 });
  images.register(image("coder", "1"), { now: 1 });
  assert.throws(() => images.get("helo"), {
    code: "ENOENT",
    message: "Cannot find image 'helo': no such image; known images: coder, worker",
  });
  for (let i = 0; i < 20; i++) images.register(image(`img-${i}`, "1"), { now: 1 });
  assert.throws(() => images.get("helo"), {
    code: "ENOENT",
    message: "Cannot find image 'helo': no such image; 22 images are registered",
  });
});

Deno.test("get() of an unknown version is ENOENT listing the known versions", () => {
  const images = new ImageRegistry();
  images.register(image("hello", "1"), { now: 1 });
  images.register(image("hello", "2"), { now: 2 });
  assert.throws(() => images.get("hello", "3"), {
    code: "ENOENT",
    message: "Cannot find image 'hello@3': no such version; known versions: 1, 2",
  });
});

Deno.test("load() restores records with their sources and times, the latest registration current", () => {
  const images = new ImageRegistry();
  images.load([
    record("hello", "2", 20),
    record("hello", "1", 10),
    record("coder", "1", 5),
    record("coder", "3", 30),
    record("coder", "2", 30),
  ]);
  assert.deepEqual(images.get("hello"), record("hello", "2", 20));
  assert.equal(images.get("coder").version, "2", "a tie goes to the later record");
  assert.deepEqual(images.get("hello", "1"), record("hello", "1", 10));
  assert.deepEqual(images.list().map((r) => `${r.id}@${r.version}`), ["coder@2", "hello@2"]);
  images.register(image("hello", "3"), { now: 40 });
  assert.equal(images.get("hello").version, "3");
});

Deno.test("load() skips records it holds already and refuses conflicting ones", () => {
  const images = new ImageRegistry();
  images.register(image("hello", "1"), { source: "first.jsonc", now: 1 });
  images.load([record("hello", "1", 99)]);
  assert.equal(images.get("hello").registeredAt, 1);
  const conflicting = { ...record("hello", "1", 2), image: image("hello", "1", "other prompt") };
  assert.throws(() => images.load([conflicting]), { code: "EEXIST" });
});
