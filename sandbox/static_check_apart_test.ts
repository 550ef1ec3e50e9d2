import assert from "node:assert/strict";
import { staticCheck } from "./jit_static_check.ts";
import { closeStaticChecker, staticCheckApart } from "./static_check_apart.ts";

const fixture = (name: string) =>
  Deno.readTextFile(new URL(`./testdata/jit/${name}`, import.meta.url));

Deno.test("the checker process gives the in-process verdict, problems and imports alike, and starts again after it went", async () => {
  try {
    for (const name of ["word_count.ts", "refused.txt"]) {
      const source = await fixture(name);
      for (const profile of ["jit", "folder"] as const) {
        const apart = await staticCheckApart(source, { profile });
        assert.deepEqual(apart, await staticCheck(source, { profile }), `${name} (${profile})`);
      }
    }
    const refused = await staticCheckApart(await fixture("refused.txt"));
    assert.equal(refused.ok, false);
    await closeStaticChecker();
    // A check after the process went starts another one.
    const again = await staticCheckApart(await fixture("word_count.ts"), { profile: "folder" });
    assert.equal(again.ok, true);
  } finally {
    await closeStaticChecker();
  }
});
