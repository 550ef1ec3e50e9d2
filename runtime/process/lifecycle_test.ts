import assert from "node:assert/strict";
import { assertTransition, canTransition, isTerminal } from "./lifecycle.ts";
import type { ProcessState } from "../types.ts";

const STATES: ProcessState[] = [
  "created",
  "runnable",
  "running",
  "waiting",
  "suspended",
  "exited",
  "failed",
  "killed",
];

Deno.test("the transition table is exactly DESIGN §2's lifecycle", () => {
  const legal = STATES.flatMap((from) =>
    STATES.filter((to) => canTransition(from, to)).map((to) => `${from}→${to}`)
  );
  assert.deepEqual(legal, [
    "created→runnable",
    "created→suspended",
    "created→failed",
    "created→killed",
    "runnable→running",
    "runnable→suspended",
    "runnable→failed",
    "runnable→killed",
    "running→runnable",
    "running→waiting",
    "running→suspended",
    "running→exited",
    "running→failed",
    "running→killed",
    "waiting→runnable",
    "waiting→suspended",
    "waiting→failed",
    "waiting→killed",
    "suspended→created",
    "suspended→runnable",
    "suspended→waiting",
    "suspended→failed",
    "suspended→killed",
  ]);
});

Deno.test("terminal states have no way out, and assertTransition names both states", () => {
  for (const s of STATES) assert.equal(isTerminal(s), ["exited", "failed", "killed"].includes(s));
  assert.throws(
    () => assertTransition("p_1", "exited", "runnable"),
    (e: { code: string; message: string }) =>
      e.code === "ESTATE" && /p_1 from exited to runnable/.test(e.message) &&
      /terminal/.test(e.message),
  );
  assert.throws(
    () => assertTransition("p_2", "waiting", "running"),
    /waiting may only become runnable, suspended, killed, failed/,
  );
});
