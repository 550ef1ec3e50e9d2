/**
 * The web console end to end in headless Chromium: an operator pastes a
 * token, sees a scripted process wait for approval with its escaped preview,
 * approves it in the page, and sees the process finish through the live
 * event stream (the page never polls).
 */
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { ControlPlane, serveControlPlane } from "../api/mod.ts";
import { ADMIN } from "./api_helpers.ts";
import { bootKernel, call, fileText, scripted } from "./helpers.ts";

const CHROMIUM = "/usr/bin/chromium";
const haveChromium = await Deno.stat(CHROMIUM).then(() => true, () => false);

Deno.test({
  name:
    "console: paste a token, approve a pending write in the page, watch the process finish live",
  // CI installs Chromium (.ci/run) and must run this; elsewhere it runs when Chromium is there.
  ignore: !haveChromium && Deno.env.get("CI") !== "true",
  async fn() {
    await using t = await bootKernel();
    await using plane = await ControlPlane.create(t.kernel, { adminToken: ADMIN });
    await using server = serveControlPlane(plane, { port: 0, hostname: "127.0.0.1" });
    const profile = await Deno.makeTempDir({ prefix: "libos-chromium-" });
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-quic",
        "--no-first-run",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    try {
      const page = await browser.newPage();
      page.setDefaultTimeout(15_000);
      const pageErrors: string[] = [];
      page.on("pageerror", (e) => pageErrors.push(e.message));

      const p = await t.kernel.spawn({
        image: scripted([
          call("write_text_file", {
            path: "deploy/config.txt",
            text: "replicas=3\n<img src=x onerror=alert(1)>\u202eevil",
          }),
          call("exit", { result: { ok: true } }),
        ], { capabilities: [{ resource: "fs:deploy/**", rights: ["write"], effect: "ask" }] }),
        goal: "write the deployment file",
      });
      await t.kernel.wait(p.pid);

      await page.goto(`${server.url}/`);
      await page.fill("#token-input", ADMIN);
      await page.click("#token-save");
      await page.waitForSelector("#whoami:text('admin (admin)')");
      await page.waitForSelector("#status[data-state='live']");

      // The process tree shows it waiting; the queue shows its request.
      const row = `#processes li[data-pid='${p.pid}']`;
      await page.waitForSelector(`${row}[data-state='waiting']`);
      const request = `#human li.request[data-pid='${p.pid}']`;
      await page.waitForSelector(request);
      const preview = await page.textContent(`${request} .preview`);
      assert.match(preview!, /wants to write fs:deploy\/config\.txt/);
      assert.match(preview!, /<img src=x onerror=alert\(1\)>/, "markup is shown as text");
      assert.match(preview!, /\\u\{202e\}evil/, "a bidi override is shown as an escape");
      assert.equal(await page.locator("#human img").count(), 0, "no element was injected");

      // The token stays for the session: a reload needs no second paste.
      await page.reload();
      await page.waitForSelector("#whoami:text('admin (admin)')");
      await page.waitForSelector("#status[data-state='live']");

      await page.click(`${request} button.approve`);
      await page.waitForSelector(`${row}[data-state='exited']`);
      await page.waitForSelector("#human-empty", { state: "visible" });
      assert.equal(
        await fileText(t.fs, "deploy/config.txt"),
        "replicas=3\n<img src=x onerror=alert(1)>\u202eevil",
      );
      const decided = t.kernel.humanRequests()[0]!;
      assert.deepEqual([decided.state, decided.decidedBy], ["approved", "token:admin"]);

      // The process's journal and objects, and the audit log with its verification.
      await page.click(`${row} .row`);
      await page.waitForSelector("#detail-title:text('exited')");
      assert.ok(await page.locator("#journal tr[data-kind='tool.end']").count() >= 2);
      await page.click("#verify");
      await page.waitForSelector("#verify-result[data-ok='true']");
      assert.match((await page.textContent("#verify-result"))!, /chain ok: \d+ records/);
      assert.ok(await page.locator("#audit tr").count() > 0);
      assert.deepEqual(pageErrors, []);
    } finally {
      await browser.close();
      await Deno.remove(profile, { recursive: true });
    }
  },
});
