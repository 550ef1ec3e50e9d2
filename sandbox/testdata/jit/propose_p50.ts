/**
 * Measures propose → accepted for a small tool with two tests: the first
 * proposal (cold: the compiler loads, the declaration files are parsed) and
 * the median of the next ones, each a new source (a new hash, so nothing is
 * reused but the warm compiler and hosts). Also times the static check and
 * the type-check alone on the same sources.
 *
 *     deno run -A sandbox/testdata/jit/propose_p50.ts [runs]
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { IsolateToolRunner, proposeTool, staticCheck, typecheck } from "../../mod.ts";

const runs = Number(Deno.args[0] ?? 15);
const base = await Deno.readTextFile(fileURLToPath(new URL("./word_count.ts", import.meta.url)));
const tests = [
  {
    name: "counts",
    input: { path: "a.txt" },
    sys: { "fs.readText": "a b\nc\n" },
    expect: { words: 3 },
  },
  { name: "empty", input: { path: "b.txt" }, sys: { "fs.readText": "" }, expect: { words: 0 } },
];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

await using runner = await IsolateToolRunner.create({ warm: 1, maxHosts: 2 });
const totals: number[] = [];
for (let i = 0; i <= runs; i++) {
  const source = `${base}// run ${i}\n`;
  const started = performance.now();
  const proposal = await proposeTool(runner, { source, tests });
  const ms = performance.now() - started;
  if (!proposal.ok) throw new Error(`run ${i} was not accepted: ${proposal.report}`);
  if (i === 0) console.log(`cold (first) proposal: ${ms.toFixed(0)} ms`);
  else totals.push(ms);
}
const statics: number[] = [];
const types: number[] = [];
for (let i = 0; i < runs; i++) {
  const source = `${base}// phase ${i}\n`;
  let t = performance.now();
  await staticCheck(source);
  statics.push(performance.now() - t);
  t = performance.now();
  await typecheck(source);
  types.push(performance.now() - t);
}
console.log(
  `propose → accepted, p50 of ${runs}: ${median(totals).toFixed(0)} ms ` +
    `(min ${Math.min(...totals).toFixed(0)}, max ${Math.max(...totals).toFixed(0)}); ` +
    `static check p50 ${median(statics).toFixed(1)} ms; type-check p50 ${
      median(types).toFixed(0)
    } ms; ` +
    `confinement: ${runner.confinement.kind}`,
);
