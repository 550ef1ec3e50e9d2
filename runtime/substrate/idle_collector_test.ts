import assert from "node:assert/strict";
import { IdleCollector } from "./idle_collector.ts";

const MiB = 2 ** 20;

/** A collector on a fake clock and a fake RSS; each collection frees down to `floor`. */
function fake(floor = 100 * MiB) {
  const world = { now: 0, rss: floor, collections: 0 };
  const collector = new IdleCollector({
    quietMs: 1000,
    growthBytes: 16 * MiB,
    now: () => world.now,
    rss: () => world.rss,
    collect: () => {
      world.collections++;
      world.rss = floor;
    },
  });
  return { world, collector };
}

Deno.test("IdleCollector: collects once the kernel is quiet after it grew, and only then", () => {
  const { world, collector } = fake();
  world.rss += 60 * MiB; // a burst of work
  // Busy: an event every 200 ms, never quiet for a second.
  for (let t = 0; t < 5000; t += 200) {
    world.now = t;
    collector.activity();
    assert.equal(collector.tick(), false);
  }
  world.now += 999;
  assert.equal(collector.tick(), false, "not quiet for 1000 ms yet");
  world.now += 1;
  assert.equal(collector.tick(), true);
  assert.equal(world.collections, 1);
  assert.deepEqual(
    { before: collector.stats.lastBefore, after: collector.stats.lastAfter },
    { before: 160 * MiB, after: 100 * MiB },
  );
  // Still quiet, nothing grew: no second pause.
  world.now += 5000;
  assert.equal(collector.tick(), false);
  assert.equal(world.collections, 1);
});

Deno.test("IdleCollector: growth below the threshold is left to V8, and a floor V8 reached counts", () => {
  const { world, collector } = fake();
  world.rss += 15 * MiB;
  world.now = 10_000;
  assert.equal(collector.tick(), false);
  // V8 gave memory back by itself: the lower figure is the new baseline.
  world.rss = 90 * MiB;
  assert.equal(collector.tick(), false);
  world.rss = 90 * MiB + 16 * MiB;
  assert.equal(collector.tick(), true);
  assert.equal(world.collections, 1);
});

Deno.test("IdleCollector: without V8's gc it never collects and start() arms nothing", () => {
  const collector = new IdleCollector({ collect: null, now: () => 1e9, rss: () => 1e12 });
  assert.equal(collector.enabled, false);
  assert.equal(collector.tick(), false);
  collector.start();
  collector[Symbol.dispose]();
});
