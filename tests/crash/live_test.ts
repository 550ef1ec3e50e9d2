/**
 * The live crash test: a real kernel, driven only through its HTTP API, killed
 * with SIGKILL (its whole process group) six times while agents fork, spawn,
 * ask, wait for approvals and write; then run to the end and checked. The
 * full size runs by hand: `deno task soak:live`.
 */
import assert from "node:assert/strict";
import { runLiveCampaign } from "./live_harness.ts";

const SEED = 20260420;

Deno.test("kill -9 of the kernel's group, 6 times on live work: every agent ends as uninterrupted, no effect twice", async () => {
  const dir = await Deno.makeTempDir({ prefix: "libos-live-" });
  try {
    const result = await runLiveCampaign(dir, {
      agents: 4,
      rounds: 120,
      kills: 6,
      seed: SEED,
      finishTimeoutMs: 60_000,
    });
    assert.deepEqual(result.problems, [], `seed ${SEED}:\n${result.problems.join("\n")}`);
    assert.equal(result.kills, 6, `seed ${SEED}: ${result.kills} kills`);
    assert.equal(result.landed, result.kills, `seed ${SEED}: kills that landed on live work`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
