import assert from "node:assert/strict";
import { runDemo } from "../examples/demo.ts";

Deno.test("the demo runs end to end: fork with a sandboxed tool, JIT tool, checkpoint, denial, approval, report, verified audit chain", async () => {
  const dir = await Deno.makeTempDir({ prefix: "libos-demo-test-" });
  try {
    const lines: string[] = [];
    const ok = await runDemo(dir, (l) => lines.push(l));
    assert.equal(ok, true, lines.join("\n"));
    assert.ok(lines.some((l) => /EPERM: Cannot write 'fs:README\.md'/.test(l)));
    assert.ok(lines.some((l) => /\[human\] h_1 approved by operator:demo/.test(l)));
    assert.ok(
      lines.some((l) => /p_2 {2}← ok \{"ok":2,"fail":2/.test(l)),
      "the fork parsed the log with a tools-folder tool",
    );
    assert.ok(lines.some((l) => /JIT tool: count_exports sha256:/.test(l)));
    assert.ok(lines.some((l) => /checkpoints: ck_1/.test(l)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
