/**
 * The page heals after an outage, in a real browser (Chromium via playwright-core) against
 * `deno task start`: a job completes while its images cannot be loaded (the image requests fail,
 * as they do while a server restarts), the server stops (SIGTERM) and a submit made meanwhile
 * fails; once the server is started again the header is back to "Live" within 3 s, the broken
 * images load without a reload, the stale form error is gone and a job made since shows up.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { launchChromium } from "../shared/testing/browser.ts";
import {
  freePort,
  type ServiceProcess,
  startService,
  waitForHttp,
} from "../shared/testing/processes.ts";

const WAIT = 30_000;
/** The bound: "Live" again within 3 s of the server answering. */
const LIVE_BOUND_MS = 3000;

async function submit(base: string, prompt: string): Promise<string> {
  const res = await fetch(`${base}/api/v1/generate`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      prompt,
      model: "local/aurora",
      parameters: { width: 96, height: 64, num_inference_steps: 4 },
    }),
  });
  assert.equal(res.status, 202);
  return (await res.json()).job_id;
}

/** The header pill's text. */
function pillText(page: Page): Promise<string> {
  return page.locator("header .pill").first().innerText();
}

/** Resolves once `/api/v1/health` answers; returns when (performance.now()). */
async function answering(base: string): Promise<number> {
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    try {
      const res = await fetch(`${base}/api/v1/health`, { signal: AbortSignal.timeout(500) });
      await res.body?.cancel();
      return performance.now();
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  throw new Error("the server never came back");
}

Deno.test({
  name: "ui heals: Live within 3 s of the server's return, broken images repaired, no stale error",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "darkroom-heal-" });
    const profile = await Deno.makeTempDir({ prefix: "darkroom-heal-chromium-" });
    const port = freePort();
    const base = `http://127.0.0.1:${port}`;
    const env = {
      DATA_DIR: `${dir}/data`,
      STORAGE_PATH: `${dir}/storage`,
      PORT: String(port),
      LOCAL_STEP_MS: "20",
      SHUTDOWN_TIMEOUT_S: "3",
    };
    let proc: ServiceProcess | undefined = await startService("start", env);
    const context = await launchChromium({ profile, viewport: { width: 1280, height: 900 } });
    try {
      await waitForHttp(`${base}/api/v1/health`, 60_000, proc);
      const page = context.pages()[0] ?? await context.newPage();
      await page.goto(`${base}/`, { waitUntil: "load" });
      await page.locator("header .pill", { hasText: "Live" }).waitFor({ timeout: WAIT });

      // A job completes while its images cannot be fetched: they end up broken (alt text).
      await page.route("**/images/**", (route) => route.abort("connectionrefused"));
      const first = await submit(base, "a lighthouse that loads late");
      const card = page.locator("#panel-generate article.card").filter({
        has: page.locator(".prompt", { hasText: "a lighthouse that loads late" }),
      });
      await card.locator("img[data-broken]").waitFor({ state: "attached", timeout: WAIT });

      // The server goes away; the page says so, and a submit made meanwhile fails.
      const stopped = await proc.stop();
      assert.equal(stopped.code, 0, proc.output().slice(-2000));
      proc = undefined;
      await page.waitForFunction(
        () => !document.querySelector("header .pill")?.textContent?.includes("Live"),
        undefined,
        { timeout: WAIT },
      );
      await page.locator("#f-prompt").fill("sent while the server was away");
      await page.locator("#f-prompt").focus();
      await page.keyboard.press("Control+Enter");
      const formError = page.locator(".form-error[role=alert]");
      await formError.waitFor({ timeout: WAIT });
      // Down long enough for the reconnect waits to grow past the bound (1 s, 2 s, 5 s, …).
      await new Promise((r) => setTimeout(r, 6000));

      // The server returns (and the images can be fetched again).
      await page.unroute("**/images/**");
      proc = await startService("start", env);
      const back = await answering(base);
      await page.locator("header .pill", { hasText: "Live" }).waitFor({ timeout: WAIT });
      const liveAfter = performance.now() - back;
      console.log(`"Live" ${Math.round(liveAfter)} ms after the server answered again`);
      assert.ok(
        liveAfter <= LIVE_BOUND_MS,
        `"Live" came back ${Math.round(liveAfter)} ms after the server (pill: ${await pillText(
          page,
        )})`,
      );

      // The broken images load again, without a reload.
      await page.waitForFunction(
        () => {
          const imgs = [...document.querySelectorAll<HTMLImageElement>("#panel-generate img")];
          return imgs.length > 0 && imgs.every((i) => i.complete && i.naturalWidth > 0) &&
            !document.querySelector("img[data-broken]");
        },
        undefined,
        { timeout: 10_000 },
      );
      const repairedAfter = performance.now() - back;
      console.log(`images repaired ${Math.round(repairedAfter)} ms after the server returned`);
      // The error about the unreachable server no longer holds.
      await formError.waitFor({ state: "detached", timeout: 5000 });
      // A job made since shows up by itself.
      const second = await submit(base, "made after the return");
      await page.locator("#panel-generate article.card .prompt", {
        hasText: "made after the return",
      }).waitFor({ timeout: WAIT });
      assert.notEqual(first, second);
    } finally {
      await context.close().catch(() => {});
      await proc?.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    }
  },
});
