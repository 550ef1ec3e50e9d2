/**
 * The human queue end to end over the API: escaped previews, approve / deny /
 * answer with scope once or always, single use, expiry, binding to the exact
 * action, the deciding token in the audit log, and re-dispatch of the same
 * action without a new model call.
 */
import assert from "node:assert/strict";
import { bootPlane, type TestPlane } from "./api_helpers.ts";
import { call, fileText, scripted } from "./helpers.ts";

/** Spawns over the API and long-polls until the process settles. */
async function spawnAndSettle(t: TestPlane, image: unknown, token?: string): Promise<string> {
  const s = await t.call("/v1/processes", {
    body: { image, goal: "test" },
    ...(token === undefined ? {} : { token }),
  });
  assert.equal(s.status, 201, s.text);
  const w = await t.call(`/v1/processes/${s.json.pid}/wait?timeoutMs=5000`);
  assert.equal(w.json.timedOut, false);
  return s.json.pid;
}

async function waitTerminal(t: TestPlane, pid: string) {
  const w = await t.call(`/v1/processes/${pid}/wait?until=terminal&timeoutMs=5000`);
  assert.equal(w.json.timedOut, false, w.text);
  return w.json.process;
}

async function journal(t: TestPlane, pid: string) {
  return (await t.call(`/v1/processes/${pid}/journal?limit=1000`)).json.entries as {
    kind: string;
    data: Record<string, unknown>;
  }[];
}

function toolOutcomes(entries: { kind: string; data: Record<string, unknown> }[]): string[] {
  return entries.filter((e) => e.kind === "tool.end").map((e) => {
    const r = e.data["result"] as { ok: boolean; error?: { code: string } };
    return `${e.data["name"]}:${r.ok ? "ok" : r.error!.code}`;
  });
}

const askWrite = (steps: ReturnType<typeof call>[]) =>
  scripted(steps, {
    capabilities: [{ resource: "fs:out/**", rights: ["write"], effect: "ask" }],
  });

Deno.test("previews are listed escaped: no raw controls, no ANSI/OSC sequences, no bidi overrides; long content is cut with a note", async () => {
  await using t = await bootPlane();
  const hostile = "\u001b[2J\u001b[31mred\u001b]8;;http://evil\u0007link\u001b]8;;\u0007" +
    "\u202eevil\u202c\u2066x\u2069\u0000\u0008\u007f\u009b31m zero\u200bwidth\n" +
    "long ".repeat(2000);
  const pid = await spawnAndSettle(
    t,
    askWrite([call("write_text_file", { path: "out/x.txt", text: hostile }), call("exit", {})]),
  );
  const list = await t.call("/v1/human?state=pending");
  assert.equal(list.status, 200);
  const [r] = list.json.requests;
  assert.equal(r.pid, pid);
  assert.equal(r.kind, "approval");
  const preview: string = r.preview;
  // deno-lint-ignore no-control-regex
  assert.doesNotMatch(preview, /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
  assert.doesNotMatch(preview, /[\u202a-\u202e\u2066-\u2069\u200b-\u200f]/);
  assert.ok(!preview.includes("\u001b"));
  assert.match(preview, /\\u\{1b\}/, "an escape sequence is shown as a visible escape");
  assert.match(preview, /\\u\{202e\}evil/);
  assert.match(preview, /\[cut \d+ characters\]/);
  assert.ok(preview.length < 2_500, `${preview.length} characters`);
  // One request by id says the same.
  const one = await t.call(`/v1/human/${r.id}`);
  assert.equal(one.json.preview, preview);
});

Deno.test("approve once: the process wakes and re-dispatches the same write without a new model call; the decision is audited with the token's identity", async () => {
  await using t = await bootPlane();
  const alice = await t.tokenFor("operator", "alice");
  const pid = await spawnAndSettle(
    t,
    askWrite([
      call("write_text_file", { path: "out/a.txt", text: "A" }),
      call("exit", { result: "done" }),
    ]),
  );
  assert.equal((await t.call(`/v1/processes/${pid}`)).json.state, "waiting");
  const modelCallsBefore =
    (await journal(t, pid)).filter((e) => e.kind === "model.response").length;
  const [r] = (await t.call("/v1/human?state=pending")).json.requests;

  const ok = await t.call(`/v1/human/${r.id}`, {
    token: alice,
    body: { previewSha256: r.previewSha256, decision: "approve" },
  });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json.state, "approved");
  assert.equal(ok.json.decidedBy, "token:alice");
  assert.equal(ok.json.scope, "once");

  const done = await waitTerminal(t, pid);
  assert.deepEqual([done.state, done.result], ["exited", "done"]);
  assert.equal(await fileText(t.fs, "out/a.txt"), "A");
  const entries = await journal(t, pid);
  // Turn 0 (the write) and turn 1 (exit): the approval added no model call.
  assert.equal(entries.filter((e) => e.kind === "model.response").length, 2);
  assert.equal(modelCallsBefore, 1);
  assert.deepEqual(toolOutcomes(entries), ["write_text_file:ok", "exit:ok"]);

  const audit = await t.call(`/v1/audit?action=human.approved&pid=${pid}`);
  assert.equal(audit.json.records.length, 1);
  assert.equal(audit.json.records[0].actor, "token:alice");
  assert.equal(audit.json.records[0].detail.actionHash, r.actionHash);
  // A second decision is refused and changes nothing.
  const head = t.kernel.auditHead;
  const again = await t.call(`/v1/human/${r.id}`, {
    token: alice,
    body: { previewSha256: r.previewSha256, decision: "deny" },
  });
  assert.equal(again.status, 409);
  assert.equal(again.json.error.code, "ESTATE");
  assert.deepEqual(t.kernel.auditHead, head);
  assert.equal((await t.call(`/v1/human/${r.id}`)).json.state, "approved");
});

Deno.test("an approval applies to its exact action only: a different write asks again, and a denial is a failed tool result", async () => {
  await using t = await bootPlane();
  const pid = await spawnAndSettle(
    t,
    askWrite([
      call("write_text_file", { path: "out/a.txt", text: "first" }),
      call("write_text_file", { path: "out/a.txt", text: "second" }),
      call("exit", { result: "after denial" }),
    ]),
  );
  const [first] = (await t.call("/v1/human?state=pending")).json.requests;
  await t.call(`/v1/human/${first.id}`, {
    body: { previewSha256: first.previewSha256, decision: "approve", scope: "once" },
  });
  await t.call(`/v1/processes/${pid}/wait?timeoutMs=5000`);
  const pending = (await t.call("/v1/human?state=pending")).json.requests;
  assert.equal(pending.length, 1, "the second write asks again");
  const second = pending[0];
  assert.notEqual(second.id, first.id);
  assert.notEqual(second.actionHash, first.actionHash);
  assert.equal(await fileText(t.fs, "out/a.txt"), "first");

  const denied = await t.call(`/v1/human/${second.id}`, {
    body: { previewSha256: second.previewSha256, decision: "deny" },
  });
  assert.equal(denied.json.state, "denied");
  const done = await waitTerminal(t, pid);
  assert.deepEqual([done.state, done.result], ["exited", "after denial"]);
  assert.deepEqual(toolOutcomes(await journal(t, pid)), [
    "write_text_file:ok",
    "write_text_file:EDENIED",
    "exit:ok",
  ]);
  assert.equal(await fileText(t.fs, "out/a.txt"), "first");
});

Deno.test("approve always turns the request into a standing grant: the next matching write does not ask", async () => {
  await using t = await bootPlane();
  const pid = await spawnAndSettle(
    t,
    askWrite([
      call("write_text_file", { path: "out/a.txt", text: "1" }),
      call("write_text_file", { path: "out/a.txt", text: "2" }),
      call("exit", { result: null }),
    ]),
  );
  const [r] = (await t.call("/v1/human?state=pending")).json.requests;
  const ok = await t.call(`/v1/human/${r.id}`, {
    body: { previewSha256: r.previewSha256, decision: "approve", scope: "always" },
  });
  assert.equal(ok.json.scope, "always");
  assert.equal((await waitTerminal(t, pid)).state, "exited");
  assert.equal((await t.call("/v1/human")).json.requests.length, 1, "no second request");
  assert.equal(await fileText(t.fs, "out/a.txt"), "2");
  const caps = (await t.call(`/v1/processes/${pid}/capabilities`)).json.capabilities;
  assert.ok(caps.some((g: { issuedBy: string }) => g.issuedBy === `human:${r.id}`));
});

Deno.test("a question is answered with text; approving a question is a 400 that changes nothing", async () => {
  await using t = await bootPlane();
  const pid = await spawnAndSettle(
    t,
    scripted([
      call("ask_human", { question: "Which branch?" }),
      call("exit", { result: { $ref: "steps[0].result.value.answer" } }),
    ], { capabilities: [{ resource: "human:operator", rights: ["ask"] }] }),
  );
  const [q] = (await t.call("/v1/human?state=pending")).json.requests;
  assert.equal(q.kind, "question");
  assert.match(q.preview, /Which branch\?/);
  const bad = await t.call(`/v1/human/${q.id}`, {
    body: { previewSha256: q.previewSha256, decision: "approve" },
  });
  assert.equal(bad.status, 400);
  assert.equal((await t.call(`/v1/human/${q.id}`)).json.state, "pending");
  const ok = await t.call(`/v1/human/${q.id}`, {
    body: { previewSha256: q.previewSha256, decision: "answer", answer: "main" },
  });
  assert.equal(ok.json.state, "answered");
  assert.equal((await waitTerminal(t, pid)).result, "main");
});

Deno.test("an unanswered request expires: the process gets EEXPIRED and goes on; a late decision is 409", async () => {
  await using t = await bootPlane({ humanTtlMs: 60_000 });
  const pid = await spawnAndSettle(
    t,
    askWrite([
      call("write_text_file", { path: "out/a.txt", text: "A" }),
      call("exit", { result: "went on" }),
    ]),
  );
  const [r] = (await t.call("/v1/human?state=pending")).json.requests;
  assert.equal(r.expiresAt, r.createdAt + 60_000);
  t.clock.advance(60_000);
  const done = await waitTerminal(t, pid);
  assert.deepEqual([done.state, done.result], ["exited", "went on"]);
  const entries = await journal(t, pid);
  assert.deepEqual(toolOutcomes(entries), ["write_text_file:EEXPIRED", "exit:ok"]);
  const end = entries.find((e) => e.kind === "tool.end")!;
  assert.match(
    JSON.stringify(end.data["result"]),
    /expired/,
    "the failed result says why, so the agent can reason about it",
  );
  assert.equal((await t.call(`/v1/human/${r.id}`)).json.state, "expired");
  const late = await t.call(`/v1/human/${r.id}`, {
    body: { previewSha256: r.previewSha256, decision: "approve" },
  });
  assert.equal(late.status, 409);
  assert.equal(await fileText(t.fs, "out/a.txt"), null);
});

Deno.test("a viewer cannot decide; an unknown request is 404; a malformed decision is 400 with its issues", async () => {
  await using t = await bootPlane();
  await spawnAndSettle(
    t,
    askWrite([call("write_text_file", { path: "out/a.txt", text: "A" }), call("exit", {})]),
  );
  const viewer = await t.tokenFor("viewer");
  const [r] = (await t.call("/v1/human?state=pending", { token: viewer })).json.requests;
  const forbidden = await t.call(`/v1/human/${r.id}`, {
    token: viewer,
    body: { decision: "approve", previewSha256: r.previewSha256 },
  });
  assert.equal(forbidden.status, 403);
  assert.equal(
    (await t.call("/v1/human/h_999", {
      body: { decision: "approve", previewSha256: "0".repeat(64) },
    })).status,
    404,
  );
  const bad = await t.call(`/v1/human/${r.id}`, {
    body: { previewSha256: r.previewSha256, decision: "maybe", scope: "forever" },
  });
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.json.error.issues.map((i: { path: string }) => i.path).sort(), [
    "decision",
    "scope",
  ]);
  assert.equal((await t.call(`/v1/human/${r.id}`)).json.state, "pending");
});

Deno.test("an answer is bound to the preview the human saw: another digest is 409 ESTALE, none is 400, and the request stays pending", async () => {
  await using t = await bootPlane();
  const pid = await spawnAndSettle(
    t,
    askWrite([call("write_text_file", { path: "out/a.txt", text: "A" }), call("exit", {})]),
  );
  const [r] = (await t.call("/v1/human?state=pending")).json.requests;
  assert.match(r.previewSha256, /^[0-9a-f]{64}$/);
  const head = t.kernel.auditHead;
  const stale = await t.call(`/v1/human/${r.id}`, {
    body: { decision: "approve", previewSha256: "f".repeat(64) },
  });
  assert.equal(stale.status, 409);
  assert.equal(stale.json.error.code, "ESTALE");
  const none = await t.call(`/v1/human/${r.id}`, { body: { decision: "approve" } });
  assert.equal(none.status, 400);
  assert.deepEqual(none.json.error.issues.map((i: { path: string }) => i.path), ["previewSha256"]);
  assert.equal((await t.call(`/v1/human/${r.id}`)).json.state, "pending");
  assert.deepEqual(t.kernel.auditHead, head, "refused answers change nothing");
  const ok = await t.call(`/v1/human/${r.id}`, {
    body: { decision: "approve", previewSha256: r.previewSha256 },
  });
  assert.equal(ok.status, 200);
  await waitTerminal(t, pid);
  assert.equal(await fileText(t.fs, "out/a.txt"), "A");
});
