import assert from "node:assert/strict";
import { GroupCommit } from "./group_commit.ts";

/** A queue whose commits are recorded: each call's items, in order. */
function recorded(fail: (item: string) => boolean = () => false) {
  const groups: string[][] = [];
  const queue = new GroupCommit<string>({
    delayMs: 0,
    behindMs: 10_000,
    commit: (items) => {
      groups.push([...items]);
      return items.map((item) => (fail(item) ? new Error(`bad ${item}`) : null));
    },
  });
  return { groups, queue };
}

Deno.test("batches handed over in one turn commit as one group, in order", async () => {
  const { groups, queue } = recorded();
  await Promise.all([queue.add("a"), queue.add("b"), queue.add("c")]);
  assert.deepEqual(groups, [["a", "b", "c"]]);
});

Deno.test("a batch handed over behind rides with the next batch that is waited for", async () => {
  const { groups, queue } = recorded();
  const behind = queue.add("result", true);
  // Nothing starts a group for it alone (its timer is 10 s here)...
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(groups, []);
  assert.equal(queue.waiting, 1);
  // ...until a batch someone waits for comes: one group, the behind one first.
  await queue.add("intent");
  await behind;
  assert.deepEqual(groups, [["result", "intent"]]);
});

Deno.test("a batch handed over behind alone commits after behindMs", async () => {
  const groups: string[][] = [];
  const queue = new GroupCommit<string>({
    delayMs: 0,
    behindMs: 1,
    commit: (items) => {
      groups.push([...items]);
      return items.map(() => null);
    },
  });
  await queue.add("alone", true);
  assert.deepEqual(groups, [["alone"]]);
});

Deno.test("each batch gets its own error; flush commits what waits", async () => {
  const { groups, queue } = recorded((item) => item === "b");
  const a = queue.add("a", true);
  const b = queue.add("b", true);
  await queue.flush();
  await a;
  await assert.rejects(b, /bad b/);
  assert.deepEqual(groups, [["a", "b"]]);
  assert.equal(queue.waiting, 0);
});

Deno.test("a commit that throws fails every batch of its group, and the next group still runs", async () => {
  let calls = 0;
  const queue = new GroupCommit<string>({
    delayMs: 0,
    commit: (items) => {
      calls++;
      if (calls === 1) throw new Error("disk gone");
      return items.map(() => null);
    },
  });
  const first = Promise.allSettled([queue.add("a"), queue.add("b")]);
  assert.deepEqual((await first).map((r) => r.status), ["rejected", "rejected"]);
  await queue.add("c");
  assert.equal(calls, 2);
});
