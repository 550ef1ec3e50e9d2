/**
 * Drives the web console in headless Chromium as an operator would, and
 * prints what it observed as one JSON line. `tests/console_browser_test.ts`
 * runs it as a subprocess with `-A`: playwright-core probes paths under
 * `/proc` when it loads, which Deno allows only with all permissions, and the
 * test suite does not run with them.
 *
 * Usage: `deno run -A tests/api_console_driver.ts URL TOKEN PID`
 *
 * @module
 */
import { chromium } from "playwright-core";

/** What the driver saw. */
export interface Observations {
  whoami: string | null;
  preview: string | null;
  /** The digest shown beside the buttons. */
  digest: string | null;
  injectedImages: number;
  stateBeforeApproval: string | null;
  whoamiAfterReload: string | null;
  stateAfterApproval: string | null;
  pendingAfterApproval: number;
  detailTitle: string | null;
  journalToolEnds: number;
  verifyResult: string | null;
  auditRows: number;
  pageErrors: string[];
}

const CHROMIUM = "/usr/bin/chromium";

async function drive(url: string, token: string, pid: string): Promise<Observations> {
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

    await page.goto(`${url}/`);
    await page.fill("#token-input", token);
    await page.click("#token-save");
    await page.waitForSelector("#status[data-state='live']");
    const whoami = await page.textContent("#whoami");

    const row = `#processes li[data-pid='${pid}']`;
    const request = `#human li.request[data-pid='${pid}']`;
    await page.waitForSelector(`${row}[data-state='waiting']`);
    await page.waitForSelector(request);
    const preview = await page.textContent(`${request} .preview`);
    const digest = await page.textContent(`${request} .digest`);
    const injectedImages = await page.locator("#human img").count();
    const stateBeforeApproval = await page.getAttribute(row, "data-state");

    // The token stays for the session: a reload needs no second paste.
    await page.reload();
    await page.waitForSelector("#status[data-state='live']");
    await page.waitForSelector(request);
    const whoamiAfterReload = await page.textContent("#whoami");

    // Approve in the page; the finish arrives through the event stream.
    await page.click(`${request} button.approve`);
    await page.waitForSelector(`${row}[data-state='exited']`);
    await page.waitForSelector("#human-empty", { state: "visible" });
    const stateAfterApproval = await page.getAttribute(row, "data-state");
    const pendingAfterApproval = await page.locator("#human li.request").count();

    await page.click(`${row} .row`);
    await page.waitForSelector("#detail-title:text('exited')");
    const detailTitle = await page.textContent("#detail-title");
    const journalToolEnds = await page.locator("#journal tr[data-kind='tool.end']").count();
    await page.click("#verify");
    await page.waitForSelector("#verify-result[data-ok]");
    const verifyResult = await page.textContent("#verify-result");
    const auditRows = await page.locator("#audit tr").count();
    return {
      whoami,
      preview,
      digest,
      injectedImages,
      stateBeforeApproval,
      whoamiAfterReload,
      stateAfterApproval,
      pendingAfterApproval,
      detailTitle,
      journalToolEnds,
      verifyResult,
      auditRows,
      pageErrors,
    };
  } finally {
    await browser.close();
    await Deno.remove(profile, { recursive: true });
  }
}

if (import.meta.main) {
  const [url, token, pid] = Deno.args;
  if (url === undefined || token === undefined || pid === undefined) {
    console.error("usage: deno run -A tests/api_console_driver.ts URL TOKEN PID");
    Deno.exit(2);
  }
  console.log(JSON.stringify(await drive(url, token, pid)));
}
