/** The CLI as a user runs it: a subprocess on a temporary data directory. */
import assert from "node:assert/strict";
import { join } from "node:path";

import { libos, withTemp as withTempIn } from "./cli_kit.ts";

function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  return withTempIn("libos-cli-", fn);
}

Deno.test("libos start --once runs an image to its end and exits 0; a restart finds the committed state", async () => {
  await withTemp(async (dir) => {
    await Deno.writeTextFile(join(dir, "README.md"), "hello\n");
    const image = new URL("../examples/images/hello.jsonc", import.meta.url).pathname;
    const out = await libos([
      "start",
      "--image",
      image,
      "--once",
      "--data",
      "d",
      "--workspace",
      ".",
      "--port",
      "0",
    ], dir).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, text + new TextDecoder().decode(out.stderr));
    assert.match(text, /p_1 running → exited result \{"ok":true\}/);
    const verify = await libos(["verify", "--data", "d"], dir).output();
    assert.equal(verify.code, 0);
    assert.match(new TextDecoder().decode(verify.stdout), /audit chain ok: \d+ records/);
  });
});

Deno.test("libos start shuts down cleanly on SIGTERM", async () => {
  await withTemp(async (dir) => {
    const child = libos(
      ["start", "--data", "d", "--workspace", ".", "--port", "0", "--no-sandbox"],
      dir,
    ).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    for (let i = 0; i < 50 && !seen.includes("kernel up"); i++) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += value;
    }
    child.kill("SIGTERM");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += value;
    }
    const status = await child.status;
    await child.stderr.cancel();
    assert.equal(status.code, 0, seen);
    assert.match(seen, /SIGTERM: shutting down/);
    assert.match(seen, /state committed; bye/);
  });
});

Deno.test("libos image check names file, line and column of a mistake", async () => {
  await withTemp(async (dir) => {
    await Deno.writeTextFile(join(dir, "bad.jsonc"), '{\n  "id": "x",\n  "name": 5\n}\n');
    const out = await libos(["image", "check", "bad.jsonc"], dir).output();
    assert.equal(out.code, 1);
    assert.match(new TextDecoder().decode(out.stdout), /bad\.jsonc.*3:11/s);
  });
});
