import assert from "node:assert/strict";
import { Kernel } from "../runtime/mod.ts";
import { EventHub } from "./event_hub.ts";

Deno.test("the event hub replays what a client missed, and reports a gap past its ring or from another boot", async () => {
  await using kernel = await Kernel.create();
  using hub = new EventHub(kernel, { capacity: 3 });
  for (let i = 0; i < 5; i++) {
    kernel.events.emit({ type: "audit", seq: i + 1, action: "x", pid: null, decision: null });
  }
  assert.equal(hub.lastId, `${hub.boot}-5`);
  const after3 = hub.since(`${hub.boot}-3`);
  assert.equal(after3.kind, "events");
  assert.deepEqual(after3.kind === "events" && after3.events.map((e) => e.n), [4, 5]);
  assert.deepEqual(hub.since(`${hub.boot}-2`).kind, "events", "the oldest kept event follows 2");
  assert.deepEqual(hub.since(`${hub.boot}-1`), { kind: "gap" });
  assert.deepEqual(hub.since(`${hub.boot}-9`), { kind: "gap" });
  assert.deepEqual(hub.since("00000000-4"), { kind: "gap" });
  assert.deepEqual(hub.since("garbage"), { kind: "gap" });
  const frame = after3.kind === "events" ? after3.events[0]!.frame : "";
  assert.equal(
    frame,
    `id: ${hub.boot}-4\nevent: audit\ndata: {"seq":4,"action":"x","pid":null,"decision":null}\n\n`,
  );
  // Streamed model text goes out as it arrives.
  kernel.events.emit({ type: "model.delta", pid: "p_1", turn: 0, text: "Hel" });
  const delta = hub.since(`${hub.boot}-5`);
  assert.deepEqual(delta.kind === "events" && delta.events.map((e) => [e.type, e.pid]), [[
    "model.delta",
    "p_1",
  ]]);
});
