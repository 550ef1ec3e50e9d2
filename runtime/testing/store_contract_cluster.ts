/**
 * Store contract cases of the reads and claims a cluster's API needs
 * (grants read from the store; an idempotent command's claim across the
 * kernels of a shared store), registered by `runStoreContract`.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Store } from "../store/store.ts";
import type { CommandRecord, Grant, ProcessRecord } from "../types.ts";

/** The contract's record makers the cases use. */
export interface ClusterContractFixtures {
  commandRecord(id: string, expiresAt: number): CommandRecord;
  grant(id: string, subject: string): Grant;
  processRecord(pid: string): ProcessRecord;
}

/** Registers the cases through the contract's `test`. */
export function clusterContractCases(
  test: (title: string, fn: (store: Store) => Promise<void>) => void,
  { commandRecord, grant, processRecord }: ClusterContractFixtures,
): void {
  test("readGrants() filters by ids and subject, all given must match, in id order", async (store) => {
    await store.apply([
      { kind: "process.put", process: processRecord("p_1") },
      { kind: "process.put", process: processRecord("p_2") },
      { kind: "grant.put", grant: grant("g_2", "p_1") },
      { kind: "grant.put", grant: grant("g_10", "p_2") },
      { kind: "grant.put", grant: grant("g_1", "p_1") },
    ]);
    const ids = async (q: Parameters<Store["readGrants"]>[0]) =>
      (await store.readGrants(q)).map((g) => g.id);
    assert.deepEqual(await ids(undefined), ["g_1", "g_10", "g_2"]);
    assert.deepEqual(await ids({ subject: "p_1" }), ["g_1", "g_2"]);
    assert.deepEqual(await ids({ ids: ["g_10", "g_2"] }), ["g_10", "g_2"]);
    assert.deepEqual(await ids({ ids: ["g_10", "g_2"], subject: "p_1" }), ["g_2"]);
    assert.deepEqual(await ids({ ids: ["g_404"] }), []);
    assert.deepEqual(await store.readGrants({ ids: ["g_1"] }), [grant("g_1", "p_1")]);
  });

  test("claimCommand() (shared stores): one claim of concurrent ones wins; a live claim, a stored record block; a dead kernel's claim, an expired record, a released claim do not", async (store) => {
    if (store.claimCommand === undefined || store.releaseCommand === undefined) {
      assert.equal(store.shared, false, "a shared store claims commands");
      return;
    }
    const now = Date.now();
    const a = await store.registerKernel({ host: "h", pid: 1, ttlMs: 60_000 });
    const b = await store.registerKernel({ host: "h", pid: 2, ttlMs: 60_000 });
    const record = commandRecord("admin:k1", now + 60_000);
    const results = await Promise.all([
      store.claimCommand(record, a.kernel, now),
      store.claimCommand(record, b.kernel, now),
    ]);
    assert.equal(results.filter((r) => r === null).length, 1, JSON.stringify(results));
    const winner = results[0] === null ? a.kernel : b.kernel;
    const loser = winner === a.kernel ? b.kernel : a.kernel;
    const blocking = results.find((r) => r !== null)!;
    assert.deepEqual([blocking.state, blocking.runner], ["running", winner]);
    assert.deepEqual(
      [(await store.readCommand("admin:k1"))?.state, (await store.readCommand("admin:k1"))?.runner],
      ["running", winner],
    );
    // Released by the loser: nothing; by the winner: gone, claimable again.
    await store.releaseCommand("admin:k1", loser);
    assert.equal((await store.readCommand("admin:k1"))?.runner, winner);
    await store.releaseCommand("admin:k1", winner);
    assert.equal(await store.readCommand("admin:k1"), null);
    assert.equal(await store.claimCommand(record, a.kernel, now), null);
    // The claim of a kernel that stopped is taken over.
    await store.stopKernel(a);
    assert.equal(await store.claimCommand(record, b.kernel, now), null);
    assert.equal((await store.readCommand("admin:k1"))?.runner, b.kernel);
    // An effect made it pending: no one claims it, nor releases it, until it expires.
    const pending = { ...record, state: "pending" as const };
    await store.apply([{ kind: "command.put", command: pending }]);
    assert.deepEqual(await store.claimCommand(record, b.kernel, now), pending);
    await store.releaseCommand("admin:k1", b.kernel);
    assert.deepEqual(await store.readCommand("admin:k1"), pending);
    assert.equal(await store.claimCommand(record, b.kernel, record.expiresAt), null);
  });
}
