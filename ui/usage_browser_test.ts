/**
 * The Usage view in Chromium with real data: the `api` and `worker` processes on a database of
 * their own, a fake Replicate priced by PRICING, a key with a monthly budget (made by
 * `deno task keys create --budget-usd`), jobs run through the worker; then the view's figures,
 * its bar chart, its model table and the key's budget bar, and the lightbox's cost, as a person
 * sees them. The view's code loads only when its tab is opened.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import type { JobJson } from "../shared/jobs/json.ts";
import { launchChromium } from "../shared/testing/browser.ts";
import { deleteQueueKeys } from "../shared/testing/db.ts";
import { startFakeReplicate } from "../shared/testing/fake_replicate.ts";
import {
  createTestDatabase,
  runTask,
  serviceEnv,
  type ServiceProcess,
  startService,
  waitForHttp,
} from "../shared/testing/processes.ts";

const WAIT = 30_000;
const SCREENSHOTS = new URL("../test-output/screenshots/", import.meta.url);

async function screenshot(page: Page, name: string) {
  await Deno.mkdir(SCREENSHOTS, { recursive: true });
  const size = page.viewportSize();
  const path = new URL(`${name}-${size?.width}x${size?.height}.png`, SCREENSHOTS);
  await page.screenshot({ path: path.pathname, fullPage: true, animations: "disabled" });
}

Deno.test({
  name: "ui: the Usage view shows spend per day, per model and the key's budget (Chromium)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const database = await createTestDatabase();
    const storage = await Deno.makeTempDir({ prefix: "darkroom-usage-storage-" });
    const profile = await Deno.makeTempDir({ prefix: "darkroom-usage-chromium-" });
    const fake = await startFakeReplicate({ latencyMs: 300 });
    const env = serviceEnv({
      databaseUrl: database.url,
      storagePath: storage,
      extra: {
        AUTH_MODE: "api_key",
        REPLICATE_API_TOKEN: fake.token,
        REPLICATE_BASE_URL: fake.url,
        PRICING: '{"acme/painter": {"per_image": 0.004}}',
      },
    });
    const base = `http://127.0.0.1:${env.PORT}`;
    const services: ServiceProcess[] = [];
    try {
      assert.equal((await runTask(["migrate"], env)).code, 0);
      const made = await runTask(["keys", "create", "--name", "ui", "--budget-usd", "0.5"], env);
      assert.equal(made.code, 0, made.output);
      assert.match(made.output, /Monthly budget: \$0\.50/);
      const key = made.output.match(/API key:\s+(dr_\S+)/)?.[1];
      assert.ok(key, made.output);
      const api = await startService("api", env);
      services.push(api);
      services.push(await startService("worker", env));
      await waitForHttp(`${base}/api/v1/health`, 120_000, api);

      // Two priced jobs (2 + 1 images at $0.004) and a free local one.
      const auth = { authorization: `Bearer ${key}`, "content-type": "application/json" };
      const bodies = [
        { prompt: "a lighthouse", model: "acme/painter", parameters: { num_outputs: 2 } },
        { prompt: "a harbour", model: "acme/painter" },
        { prompt: "an aurora", model: "local/aurora", parameters: { width: 64, height: 64 } },
      ];
      const jobs: JobJson[] = [];
      for (const body of bodies) {
        const res = await fetch(`${base}/api/v1/generate`, {
          method: "POST",
          headers: { ...auth, prefer: "wait=30" },
          body: JSON.stringify(body),
        });
        assert.equal(res.status, 201, await res.clone().text());
        jobs.push(await res.json());
      }
      assert.deepEqual(jobs.map((j) => [j.status, j.cost_usd]), [
        ["completed", 0.008],
        ["completed", 0.004],
        ["completed", 0],
      ]);

      const context = await launchChromium({ profile, viewport: { width: 1280, height: 900 } });
      const problems: string[] = [];
      const requests: string[] = [];
      try {
        await context.addInitScript(
          (k: string) => localStorage.setItem("darkroom.api_key", k),
          key,
        );
        context.on("request", (r) => void requests.push(r.url()));
        context.on("response", (r) => {
          if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`);
        });
        const page = context.pages()[0] ?? await context.newPage();
        page.on("console", (m) => m.type() === "error" && problems.push(`console: ${m.text()}`));
        page.on("pageerror", (e) => void problems.push(`pageerror: ${e.message}`));

        await page.goto(`${base}/`, { waitUntil: "load" });
        await page.locator("#f-prompt").waitFor({ timeout: WAIT });
        assert.ok(!requests.some((u) => /\/UsageView-/.test(u)), "the view loads when opened");
        await page.locator("#tab-usage").click();
        assert.match(page.url(), /[?&]tab=usage/);
        const panel = page.locator("#panel-usage");
        const figures = panel.locator(".usage-figure");
        await figures.first().waitFor({ timeout: WAIT });
        assert.ok(requests.some((u) => /\/UsageView-/.test(u)));
        const values = Object.fromEntries(
          await figures.evaluateAll((els) =>
            els.map((el) => [
              el.querySelector("dt")?.textContent?.trim(),
              el.querySelector("dd")?.textContent?.trim(),
            ])
          ),
        );
        assert.deepEqual(
          { spent: values["Spent (estimate)"], jobs: values.Jobs, predictions: values.Predictions },
          { spent: "$0.012", jobs: "3", predictions: "3" },
        );

        // Today's bar, with its amount in its tooltip; 30 days on the axis.
        const today = new Date().toISOString().slice(0, 10);
        const chart = panel.locator('.usage-chart svg[role="img"]');
        assert.match((await chart.getAttribute("aria-label")) ?? "", /\$0\.012 in all/);
        const bars = chart.locator("rect.bar");
        assert.equal(await bars.count(), 1);
        assert.equal(await bars.locator("title").textContent(), `${today}: $0.012, 3 jobs`);
        const box = await bars.boundingBox();
        assert.ok(box && box.height > 50, `a tall bar: ${JSON.stringify(box)}`);

        // Per model, dearest first.
        const rows = await panel.locator(".usage-table tbody tr").evaluateAll((trs) =>
          trs.map((tr) => [...tr.querySelectorAll("th, td")].map((c) => c.textContent?.trim()))
        );
        assert.deepEqual(rows.map((r) => [r[0], r[1], r[4]]), [
          ["acme/painter", "2", "$0.012"],
          ["local/aurora", "1", "$0"],
        ]);

        // The key's budget this month.
        const budget = panel.locator(".budget");
        await budget.waitFor({ timeout: WAIT });
        assert.match(
          (await budget.textContent()) ?? "",
          /\$0\.012 spent of \$0\.500 · \$0\.488 left/,
        );
        const meter = budget.locator('[role="meter"]');
        assert.equal(await meter.getAttribute("aria-valuenow"), "0.012");
        assert.equal(await meter.getAttribute("aria-valuemax"), "0.5");
        await screenshot(page, "usage");

        // The lightbox shows what one job cost and how long it ran at the provider.
        await page.goto(`${base}/?job=${jobs[0].id}`, { waitUntil: "load" });
        const dialog = page.getByRole("dialog");
        await dialog.locator(".kv").first().waitFor({ timeout: WAIT });
        const kv = Object.fromEntries(
          await dialog.locator(".kv").evaluateAll((els) =>
            els.map((el) => [
              el.querySelector("dt")?.textContent?.trim(),
              el.querySelector(".kv-value")?.textContent?.trim(),
            ])
          ),
        );
        assert.equal(kv.Cost, "$0.0080 (estimate)", JSON.stringify(kv));
        assert.match(kv["Predict time"] ?? "", /^0\.\d s$/, JSON.stringify(kv));

        // On a phone the four tabs fit.
        await page.setViewportSize({ width: 390, height: 844 });
        await page.goto(`${base}/?tab=usage`, { waitUntil: "load" });
        await panel.locator(".usage-figure").first().waitFor({ timeout: WAIT });
        const overflow = await page.evaluate(() =>
          document.documentElement.scrollWidth - document.documentElement.clientWidth
        );
        assert.equal(overflow, 0, "no sideways scrolling");
        await screenshot(page, "usage");
        assert.deepEqual(problems, []);
        assert.ok(
          requests.every((u) => u.startsWith(base) || u.startsWith("data:")),
          "no external requests",
        );
      } finally {
        await context.close();
      }
    } catch (err) {
      for (const s of services) console.error(`--- ${s.role} ---\n${s.output().slice(-3000)}`);
      throw err;
    } finally {
      for (const s of services.reverse()) await s.stop();
      await deleteQueueKeys(env.QUEUE_PREFIX);
      await fake.close();
      await database.drop();
      await Deno.remove(storage, { recursive: true }).catch(() => {});
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    }
  },
});
