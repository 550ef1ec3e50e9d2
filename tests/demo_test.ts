import assert from "node:assert/strict";
import { runDemo } from "../examples/demo.ts";

Deno.test("the demo runs end to end: fork, denial, approval, report, verified audit chain", async () => {
  const dir = await Deno.makeTempDir({ prefix: "libos-demo-test-" });
  try {
    const lines: string[] = [];
    const ok = await runDemo(dir, (l) => lines.push(l));
    assert.equal(ok, true, lines.join("\n"));
    assert.ok(lines.some((l) => /EPERM: Cannot write 'fs:README\.md'/.test(l)));
    assert.ok(lines.some((l) => /\[human\] h_1 approved by operator:demo/.test(l)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
