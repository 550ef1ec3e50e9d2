/**
 * Hostile bodies on every route that takes one, enumerated from the OpenAPI
 * document: deep nesting, huge numbers, wrong types, prototype keys, invalid
 * UTF-8 and truncated JSON, whole and at every field of a valid body. Each
 * answer is JSON with a status the route documents, never a 500, and no
 * text the API did not write (a runtime's exception message or a stack).
 */
import assert from "node:assert/strict";
import { MAX_JSON_DEPTH } from "../api/route_def.ts";
import { ADMIN, bootPlane, type TestPlane } from "./api_helpers.ts";
import { call, scripted } from "./helpers.ts";

/** Text that only a runtime's own exception (not the API's words) would put in an answer. */
const LEAKS =
  /Maximum call stack|TypeError|RangeError|SyntaxError|ReferenceError|Cannot read propert|is not a function|undefined is not|at file:|\n\s+at |\.ts:\d+/;

/** The error statuses of the API's documented set (README, `http_errors.ts`). */
const ERRORS = new Set([400, 401, 403, 404, 409, 413, 422]);

/** One operation of the OpenAPI document. */
interface Operation {
  method: string;
  path: string;
  media: string | null;
  documented: Set<number>;
}

/** A body as sent: JSON text, or raw bytes. */
type Body = string | Uint8Array<ArrayBuffer>;

const deepArray = (n: number) => "[".repeat(n) + "]".repeat(n);
const deepObject = (n: number) => '{"a":'.repeat(n) + "1" + "}".repeat(n);

/** Values put in place of any one field of a valid body, as raw JSON text. */
const BAD_VALUES: Record<string, string> = {
  "deep arrays": deepArray(2_500),
  "deep objects": deepObject(2_500),
  "just over the depth limit": deepArray(MAX_JSON_DEPTH + 1),
  "deep but under the limit": deepArray(100),
  "1e400": "1e400",
  "-1e400": "-1e400",
  "a 40-digit integer": "1234567890123456789012345678901234567890",
  "2^53 + 1": "9007199254740993",
  "-0": "-0",
  "null": "null",
  "true": "true",
  "a string": '"x"',
  "an empty array": "[]",
  "an empty object": "{}",
  "a number array": "[1,2,3]",
  "a __proto__ object": '{"__proto__":{"polluted":true}}',
  "a constructor object": '{"constructor":{"prototype":{"polluted":true}}}',
  "a lone surrogate": '"\\ud800"',
  "control characters": '"\\u0000\\u001b[31m"',
};

/** Whole bodies, replacing the valid one. */
function wholeBodies(valid: string): Record<string, Body> {
  const utf8 = new TextEncoder();
  const bytes = (...parts: (string | number[])[]) =>
    new Uint8Array(
      parts.flatMap((p) => typeof p === "string" ? [...utf8.encode(p)] : p),
    );
  return {
    "deep arrays": deepArray(2_500),
    "deep objects": deepObject(2_500),
    "deep strings of brackets are not nesting": JSON.stringify({ s: deepArray(2_500) }),
    "1e400": "1e400",
    "null": "null",
    "a string": '"body"',
    "an array": "[]",
    "a number": "42",
    "__proto__ at the top": valid.slice(0, -1) + ',"__proto__":{"polluted":true}}',
    "constructor at the top": valid.slice(0, -1) + ',"constructor":{"prototype":{"x":1}}}',
    "only __proto__": '{"__proto__":null}',
    "invalid UTF-8 in a string": bytes('{"goal":"', [0xff, 0xfe, 0xc3], '"}'),
    "invalid UTF-8 in the valid body": bytes(valid.slice(0, -1) + ',"x":"', [0xc0, 0x80], '"}'),
    "a UTF-16 body": new Uint8Array(
      new Uint16Array([...valid].map((ch) => ch.charCodeAt(0))).buffer,
    ),
    "truncated in half": valid.slice(0, Math.floor(valid.length / 2)),
    "truncated by one": valid.slice(0, -1),
    "an open brace": "{",
    "a key without a value": '{"a":',
    "empty": "",
    "whitespace": "  \n ",
    "trailing garbage": valid + "}",
    "two documents": valid + valid,
  };
}

/** Every JSON text of `value` with one field (at any depth) replaced by each bad value. */
function fieldMutations(value: unknown): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const paths: (string | number)[][] = [];
  const walk = (v: unknown, path: (string | number)[]) => {
    paths.push(path);
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
    else if (v !== null && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
    }
  };
  walk(value, []);
  const SLOT = "\u0000slot\u0000";
  for (const path of paths.slice(1)) {
    const copy = structuredClone(value) as Record<string | number, unknown>;
    let at = copy;
    for (const key of path.slice(0, -1)) at = at[key] as Record<string | number, unknown>;
    at[path.at(-1)!] = SLOT;
    const text = JSON.stringify(copy);
    for (const [name, raw] of Object.entries(BAD_VALUES)) {
      out.push([`${path.join(".")} = ${name}`, text.replace(JSON.stringify(SLOT), raw)]);
    }
  }
  return out;
}

/** The operations of the OpenAPI document that may carry a body (every method but GET). */
async function operations(t: TestPlane): Promise<Operation[]> {
  const doc = (await t.call("/openapi.json", { token: null })).json;
  const out: Operation[] = [];
  for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
    for (const [method, raw] of Object.entries(ops)) {
      if (method === "get") continue;
      const op = raw as {
        requestBody?: { content: Record<string, unknown> };
        responses: Record<string, unknown>;
      };
      out.push({
        method: method.toUpperCase(),
        path,
        media: op.requestBody === undefined ? null : Object.keys(op.requestBody.content)[0]!,
        documented: new Set(Object.keys(op.responses).map(Number)),
      });
    }
  }
  return out;
}

/** A plane with something behind every id a body route names. */
async function fixtures(
  t: TestPlane,
): Promise<{ ids: Record<string, string>; valid: Record<string, unknown> }> {
  const parked = await t.call("/v1/processes", {
    body: {
      image: scripted([call("ask_human", { question: "go?" }), call("exit", {})], {
        capabilities: [{ resource: "human:operator", rights: ["ask"] }],
      }),
      goal: "parked",
    },
  });
  const pid = parked.json.pid as string;
  await t.call(`/v1/processes/${pid}/wait`);
  const request = (await t.call(`/v1/human?pid=${pid}`)).json.requests[0];
  const human = request.id as string;
  // `@@` becomes a number per request: a fresh image id, so that a mutated
  // image reaches validation and the kernel instead of conflicting with the last.
  const image = scripted([
    call("write_file", { path: "a.txt", content: "a" }),
    call("exit", { result: { nested: [1, { deep: true }] } }),
  ], { id: "fuzzed-@@", capabilities: [{ resource: "fs:a.txt", rights: ["read", "write"] }] });
  return {
    ids: { pid, id: human },
    valid: {
      "POST /v1/tokens": { role: "viewer", name: "fuzzed" },
      "POST /v1/processes": {
        image,
        goal: "g",
        capabilities: [{ resource: "fs:a.txt", rights: ["read"] }],
        cwd: "work",
      },
      "POST /v1/processes/{pid}/signal": { signal: "pause" },
      "POST /v1/processes/{pid}/fork": {
        goal: "g",
        capabilities: [{ resource: "human:operator", rights: ["ask"] }],
        objects: [],
      },
      "POST /v1/processes/{pid}/capabilities": { resource: "fs:b.txt", rights: ["read"] },
      "POST /v1/human/{id}": {
        decision: "answer",
        answer: "yes",
        scope: "once",
        previewSha256: request.previewSha256,
      },
      "POST /v1/images": image,
      "POST /v1/processes/{pid}/checkpoints": { reason: "r", subtree: false },
      "POST /mcp": {
        jsonrpc: "2.0",
        id: 1,
        method: "tools/call",
        params: { name: "get_process", arguments: { pid } },
      },
    },
  };
}

let _sent = 0;

async function send(
  t: TestPlane,
  op: Operation,
  path: string,
  body: Body,
  media: string,
): Promise<{ status: number; text: string; type: string }> {
  const res = await t.plane.request(path, {
    method: op.method,
    headers: {
      "content-type": media,
      authorization: `Bearer ${ADMIN}`,
      // The MCP transport answers 406 to anything else, before reading the body.
      ...(path === "/mcp" ? { accept: "application/json, text/event-stream" } : {}),
    },
    body: typeof body === "string" ? body.replaceAll("@@", String(++_sent)) : body,
  });
  return {
    status: res.status,
    text: await res.text(),
    type: res.headers.get("content-type") ?? "",
  };
}

/** What is wrong with an answer, or null. */
function fault(
  op: Operation,
  answer: { status: number; text: string; type: string },
): string | null {
  if (answer.status >= 500) return `${answer.status}: ${answer.text.slice(0, 200)}`;
  // `/mcp` speaks JSON-RPC: its transport's own errors (405, 406, 415) are
  // documented on it, and their bodies are JSON-RPC errors (a numeric code).
  const mcp = op.path === "/mcp";
  const known = answer.status < 300 || mcp ? op.documented : ERRORS;
  if (!known.has(answer.status)) {
    return `undocumented ${answer.status}: ${answer.text.slice(0, 200)}`;
  }
  if (!/^application\/json/.test(answer.type)) return `not JSON (${answer.type})`;
  let json: unknown;
  try {
    json = JSON.parse(answer.text);
  } catch {
    return `unparseable: ${answer.text.slice(0, 200)}`;
  }
  if (answer.status >= 400) {
    const error = (json as { error?: { code?: unknown; message?: unknown } }).error;
    const code = mcp ? ["string", "number"] : ["string"];
    if (!code.includes(typeof error?.code) || typeof error?.message !== "string") {
      return `not an error body: ${answer.text.slice(0, 200)}`;
    }
  }
  const leak = LEAKS.exec(answer.text);
  if (leak !== null) return `leaks '${leak[0]}': ${answer.text.slice(0, 300)}`;
  return null;
}

Deno.test("every route answers hostile bodies with a documented JSON status, never a 500 or a runtime's own words", async () => {
  await using t = await bootPlane();
  const { ids, valid } = await fixtures(t);
  const ops = await operations(t);
  assert.ok(ops.some((op) => op.media === "application/json"), "the document lists JSON bodies");
  const faults: string[] = [];
  let sent = 0;
  for (const op of ops) {
    const label = `${op.method} ${op.path}`;
    // Routes with a body get real ids (so the body reaches the handler); others a placeholder.
    const path = op.path.replace(
      /\{(\w+)\}/g,
      (_, name: string) => op.media === null ? `${name}_404` : ids[name] ?? `${name}_404`,
    );
    const base = valid[label];
    const baseText = base === undefined ? "{}" : JSON.stringify(base);
    const cases: Array<[string, Body]> = Object.entries(wholeBodies(baseText));
    if (base !== undefined) cases.push(...fieldMutations(base));
    // A bundle is bytes, not a JSON body: it is fuzzed as itself and as mislabelled JSON.
    const medias = op.media === "application/octet-stream"
      ? ["application/octet-stream", "application/json"]
      : ["application/json"];
    for (const media of medias) {
      for (const [name, body] of cases) {
        const answer = await send(t, op, path, body, media);
        sent++;
        const wrong = fault(op, answer);
        if (wrong !== null) faults.push(`${label} [${media}] ${name}: ${wrong}`);
      }
    }
  }
  await t.kernel.idle();
  assert.deepEqual(faults, [], `${faults.length} of ${sent} answers are wrong`);
  const verify = await t.call("/v1/audit/verify");
  assert.equal(verify.json.ok, true, "the audit chain is whole after the fuzz");
  assert.ok(sent > 1_000, `only ${sent} requests`);
});

Deno.test("a JSON body nested past the limit is refused before validation, naming the limit and the depth", async () => {
  await using t = await bootPlane();
  // A fresh image id each time: the same id and version with other content is a conflict.
  const image = () => JSON.stringify(scripted([call("exit", { result: "X" })]));
  const deep = (n: number) => `{"image":${image().replace('"X"', deepArray(n))},"goal":"g"}`;
  // Nesting 2,500 levels inside a free-form field once reached the kernel and overflowed its stack.
  const refused = await t.call("/v1/processes", { body: deep(2_500) });
  assert.equal(refused.status, 400);
  assert.equal(refused.json.error.code, "EINVAL");
  assert.match(refused.json.error.message, /nests 2506 levels deep, over the limit of 128/);
  assert.equal(t.kernel.list().length, 0, "nothing was spawned");
  // The image wraps the value in 6 levels: 122 more make 128, the most allowed.
  const allowed = await t.call("/v1/processes", { body: deep(122) });
  assert.equal(allowed.status, 201, allowed.text);
  const over = await t.call("/v1/processes", { body: deep(123) });
  assert.equal(over.status, 400);
  assert.match(over.json.error.message, /nests 129 levels deep, over the limit of 128/);
  // Brackets inside strings are text, not nesting.
  const quoted = await t.call("/v1/processes", {
    body: `{"image":${image().replace('"X"', JSON.stringify(deepArray(2_500)))},"goal":"g"}`,
  });
  assert.equal(quoted.status, 201, quoted.text);
  await t.kernel.idle();
});

Deno.test("a JSON body that is not UTF-8 is refused with 400 before it is parsed", async () => {
  await using t = await bootPlane();
  const body = new Uint8Array([
    ...new TextEncoder().encode('{"role":"viewer","name":"'),
    0xff,
    0x22,
    0x7d,
  ]);
  const res = await t.plane.request("/v1/tokens", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` },
    body,
  });
  const json = await res.json();
  assert.deepEqual([res.status, json.error.code], [400, "EINVAL"]);
  assert.match(json.error.message, /not valid UTF-8/);
  assert.equal(t.plane.tokens.list().length, 0);
});
