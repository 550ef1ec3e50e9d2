/**
 * The web console end to end in headless Chromium: an operator pastes a
 * token, sees a scripted process wait for approval with its escaped preview,
 * approves it in the page, and sees the process finish through the live
 * event stream (the page never polls). The browser is driven by
 * `api_console_driver.ts` in a subprocess (see there why); this test serves
 * the kernel and checks both what the page showed and what the kernel did.
 */
import assert from "node:assert/strict";
import { ControlPlane, serveControlPlane } from "../api/mod.ts";
import type { Observations } from "./api_console_driver.ts";
import { ADMIN } from "./api_helpers.ts";
import { bootKernel, call, fileText, scripted } from "./helpers.ts";

const haveChromium = await Deno.stat("/usr/bin/chromium").then(() => true, () => false);
const DRIVER = new URL("./api_console_driver.ts", import.meta.url).pathname;
const TEXT = "replicas=3\n<img src=x onerror=alert(1)>\u202eevil";

Deno.test({
  name:
    "console: paste a token, approve a pending write in the page, watch the process finish live",
  // CI installs Chromium (.ci/run) and must run this; elsewhere it runs when Chromium is there.
  ignore: !haveChromium && Deno.env.get("CI") !== "true",
  async fn() {
    await using t = await bootKernel();
    await using plane = await ControlPlane.create(t.kernel, { adminToken: ADMIN });
    await using server = serveControlPlane(plane, { port: 0, hostname: "127.0.0.1" });
    const p = await t.kernel.spawn({
      image: scripted([
        call("write_text_file", { path: "deploy/config.txt", text: TEXT }),
        call("exit", { result: { ok: true } }),
      ], { capabilities: [{ resource: "fs:deploy/**", rights: ["write"], effect: "ask" }] }),
      goal: "write the deployment file",
    });
    await t.kernel.wait(p.pid);

    const driver = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", DRIVER, server.url, ADMIN, p.pid],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const deadline = setTimeout(() => driver.kill("SIGKILL"), 120_000);
    const out = await driver.output();
    clearTimeout(deadline);
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const seen = JSON.parse(new TextDecoder().decode(out.stdout)) as Observations;

    assert.equal(seen.whoami, "admin (admin)");
    assert.equal(seen.stateBeforeApproval, "waiting");
    assert.match(seen.preview!, /wants to write fs:deploy\/config\.txt/);
    assert.match(seen.preview!, /<img src=x onerror=alert\(1\)>/, "markup is shown as text");
    assert.match(seen.preview!, /\\u\{202e\}evil/, "a bidi override is shown as an escape");
    assert.equal(seen.injectedImages, 0, "no element was injected");
    assert.equal(seen.whoamiAfterReload, "admin (admin)", "the token stayed in sessionStorage");
    assert.equal(seen.stateAfterApproval, "exited");
    assert.equal(seen.pendingAfterApproval, 0);
    assert.match(seen.detailTitle!, new RegExp(`${p.pid} — exited`));
    assert.ok(seen.journalToolEnds >= 2, `${seen.journalToolEnds} tool.end rows`);
    assert.match(seen.verifyResult!, /chain ok: \d+ records/);
    assert.ok(seen.auditRows > 0);
    assert.deepEqual(seen.pageErrors, []);

    // What the page did happened in the kernel: approved by the pasted token, written once.
    const decided = t.kernel.humanRequests()[0]!;
    assert.deepEqual([decided.state, decided.decidedBy], ["approved", "token:admin"]);
    assert.equal(
      seen.digest,
      `preview sha256 ${decided.previewSha256.slice(0, 12)}`,
      "the page shows the digest it sends back",
    );
    assert.equal(t.kernel.get(p.pid).state, "exited");
    assert.equal(await fileText(t.fs, "deploy/config.txt"), TEXT);
  },
});
