/**
 * The library in Chromium with real data (the `api` and `worker` processes on a database of their
 * own, local models): History's tiles (one per image, justified rows without holes), hover
 * actions, a search kept in the URL, shift-click selection with a bulk star (when the server has
 * stars) and a bulk delete, the lightbox showing whole 2:3 and 1:1 images at 1440×900 and
 * 1280×720 (measured), the phone layout (Generate stays reachable, a submitted job scrolls into
 * view), the collapsed advanced settings' summary and a PNG dropped on the form. Screenshots in
 * both themes go to test-output/screenshots/.
 */
import assert from "node:assert/strict";
import type { BrowserContext, Page } from "playwright-core";
import type { JobJson } from "./api_client.ts";
import { launchChromium } from "../shared/testing/browser.ts";
import { deleteQueueKeys } from "../shared/testing/db.ts";
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
const DESKTOP = { width: 1440, height: 900 };
const LAPTOP = { width: 1280, height: 720 };
const PHONE = { width: 390, height: 844 };

/** The jobs History shows: a 3-image job, a 2:3 and a 1:1 single image, and some more. */
const JOBS = [
  { prompt: "three foxes in the snow", size: [1024, 1024], n: 3 },
  { prompt: "portrait of a lighthouse", size: [832, 1216], n: 1 },
  { prompt: "square harbour at noon", size: [1024, 1024], n: 1 },
  { prompt: "two marble panoramas", size: [1344, 768], n: 2 },
  { prompt: "filler one", size: [768, 1344], n: 1 },
  { prompt: "filler two", size: [1216, 832], n: 1 },
  { prompt: "filler three", size: [1024, 1024], n: 2 },
  { prompt: "filler four", size: [832, 1216], n: 1 },
];

async function screenshot(page: Page, name: string, theme: string, full = true) {
  await Deno.mkdir(SCREENSHOTS, { recursive: true });
  const size = page.viewportSize();
  const path = new URL(`${name}-${theme}-${size?.width}x${size?.height}.png`, SCREENSHOTS);
  await page.screenshot({ path: path.pathname, fullPage: full, animations: "disabled" });
}

/** Polls `fn` until it returns a value (not undefined), or throws after `ms`. */
async function poll<T>(what: string, fn: () => Promise<T | undefined>, ms = WAIT): Promise<T> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const value = await fn().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${what} not reached within ${ms} ms`);
}

/** A page in `theme` that records console errors (404s of routes an older server lacks apart). */
async function openPage(context: BrowserContext, theme: "dark" | "light") {
  const page = context.pages()[0] ?? await context.newPage();
  const errors: string[] = [];
  page.on("console", (msg) => {
    const url = msg.location().url;
    if (msg.type() === "error" && !/\/api\/v1\/jobs\/bulk$/.test(url)) {
      errors.push(`${msg.text()} (${url})`);
    }
  });
  page.on("pageerror", (err) => void errors.push(`pageerror: ${err.message}`));
  await page.addInitScript((t) => localStorage.setItem("darkroom.theme", t), theme);
  return { page, errors };
}

/** Waits until every image shown in History has loaded. */
async function tilesLoaded(page: Page): Promise<void> {
  await page.waitForFunction(
    () =>
      [...document.querySelectorAll<HTMLImageElement>("#panel-history .tile img")]
        .every((i) => i.complete && i.naturalWidth > 0),
    undefined,
    { timeout: WAIT },
  );
}

Deno.test({
  name: "ui: the library in Chromium: tiles, selection, bulk actions, lightbox fit, phones, drops",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const started = Date.now();
    const database = await createTestDatabase();
    const storage = await Deno.makeTempDir({ prefix: "darkroom-gallery-storage-" });
    const env = serviceEnv({
      databaseUrl: database.url,
      storagePath: storage,
      extra: { LOCAL_STEP_MS: "0" },
    });
    const base = `http://127.0.0.1:${env.PORT}`;
    const services: ServiceProcess[] = [];
    try {
      assert.equal((await runTask(["migrate"], env)).code, 0);
      const api = await startService("api", env);
      services.push(api);
      services.push(await startService("worker", env));
      await waitForHttp(`${base}/api/v1/health`, 120_000, api);
      const ids: string[] = [];
      for (const [i, job] of JOBS.entries()) {
        const res = await fetch(`${base}/api/v1/generate`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            prompt: job.prompt,
            model: "local/aurora",
            parameters: {
              width: job.size[0],
              height: job.size[1],
              num_outputs: job.n,
              seed: 100 + i,
            },
          }),
        });
        const answer = await res.text();
        assert.equal(res.status, 202, answer);
        ids.push(JSON.parse(answer).job_id);
      }
      const jobs = await poll("every job done", async () => {
        const list: JobJson[] = await (await fetch(`${base}/api/v1/jobs?limit=50`)).json();
        return list.length === JOBS.length && list.every((j) => j.status === "completed")
          ? list
          : undefined;
      }, 120_000);
      const byPrompt = (p: string) => jobs.find((j) => j.prompt === p)!;
      const images = JOBS.reduce((n, j) => n + j.n, 0);

      await galleryTiles(base, jobs, images);
      await selectionAndBulk(base, jobs);
      await lightboxFit(
        base,
        byPrompt("portrait of a lighthouse"),
        byPrompt("square harbour at noon"),
      );
      await phoneLayout(base);
      await formExtras(base);
    } catch (err) {
      for (const s of services) console.error(`--- ${s.role} ---\n${s.output().slice(-4000)}`);
      throw err;
    } finally {
      for (const s of services.reverse()) await s.stop();
      await deleteQueueKeys(env.QUEUE_PREFIX);
      await database.drop();
      await Deno.remove(storage, { recursive: true }).catch(() => {});
      console.log(`gallery browser test: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
  },
});

/** One tile per image, rows that fill the width, hover actions, a search kept in the URL. */
async function galleryTiles(base: string, jobs: JobJson[], images: number): Promise<void> {
  for (const theme of ["dark", "light"] as const) {
    const context = await launchChromium({ viewport: DESKTOP });
    try {
      const { page, errors } = await openPage(context, theme);
      await page.goto(`${base}/?tab=history`, { waitUntil: "load" });
      const tiles = page.locator("#panel-history .tile");
      await poll("a tile per image", async () => await tiles.count() === images || undefined);
      await tilesLoaded(page);

      // The 3-image job: exactly three tiles, each with its image (no empty fourth tile).
      const three = jobs.find((j) => j.images.length === 3)!;
      const its = page.locator(`#panel-history .tile[data-job="${three.id}"]`);
      assert.equal(await its.count(), 3);
      assert.deepEqual(
        await its.locator("img").evaluateAll((els) => els.map((e) => e.getAttribute("src"))),
        three.images.map((i) => i.thumbnail_url),
      );
      // Every image reserves its size and the ones below the fold wait.
      const attrs = await page.locator("#panel-history .tile img").evaluateAll((els) =>
        els.map((
          e,
        ) => [e.getAttribute("width"), e.getAttribute("height"), e.getAttribute("loading")])
      );
      assert.ok(attrs.every(([w, h]) => Number(w) > 0 && Number(h) > 0), JSON.stringify(attrs));
      assert.ok(attrs.some(([, , l]) => l === "lazy"), "tiles below the fold load lazily");

      // Justified rows: every row but the last ends at the gallery's right edge; nothing overlaps.
      const rows = await page.evaluate(() => {
        const g = document.querySelector("#panel-history .gallery")!.getBoundingClientRect();
        return {
          left: g.left,
          right: g.right,
          rows: [...document.querySelectorAll("#panel-history .g-row")].map((row) =>
            [...row.querySelectorAll(".tile")].map((t) => {
              const r = t.getBoundingClientRect();
              return [r.left, r.right, r.top, r.bottom];
            })
          ),
        };
      });
      assert.ok(rows.rows.length >= 2, JSON.stringify(rows));
      for (const [n, row] of rows.rows.entries()) {
        assert.ok(Math.abs(row[0][0] - rows.left) < 1, `row ${n} starts at the left edge`);
        const end = row[row.length - 1][1];
        if (n < rows.rows.length - 1) {
          assert.ok(Math.abs(end - rows.right) < 2, `row ${n} ends at ${end}, not ${rows.right}`);
        } else assert.ok(end <= rows.right + 1);
        for (let i = 1; i < row.length; i++) assert.ok(row[i][0] >= row[i - 1][1], "no overlap");
        assert.ok(row.every((t) => Math.abs(t[3] - t[2] - (row[0][3] - row[0][2])) < 1));
      }

      // Hover shows the prompt, the chips and the actions; the menu holds the rest. (The widest
      // tile: narrow ones keep only the date and model chips.)
      const widths = await tiles.evaluateAll((els) => els.map((e) => e.clientWidth));
      const first = tiles.nth(widths.indexOf(Math.max(...widths)));
      await first.hover();
      const info = first.locator(".tile-info");
      await page.waitForFunction(
        (el) => getComputedStyle(el!).opacity === "1",
        await info
          .elementHandle(),
      );
      const chips = await first.locator(".tile-chip").allInnerTexts();
      assert.equal(chips.length, 3, JSON.stringify(chips));
      assert.match(chips[1], /aurora/);
      assert.match(chips[2], /^\d+×\d+$/);
      for (const name of ["Download", "Reuse all settings", "Variations"]) {
        assert.ok(
          await first.getByRole(name === "Download" ? "link" : "button", { name }).isVisible(),
        );
      }
      await screenshot(page, "gallery-hover", theme, false);
      await first.getByRole("button", { name: "More actions" }).click();
      const menu = first.getByRole("menu", { name: "More actions" });
      await menu.waitFor({ timeout: WAIT });
      const items = await menu.getByRole("menuitem").allInnerTexts();
      for (
        const want of [
          "Open",
          "Download",
          "Reuse all settings",
          "Reuse prompt only",
          "Variations (new seed)",
          "Copy link",
          "Delete…",
        ]
      ) {
        assert.ok(items.some((t) => t.trim() === want), `${want} in ${JSON.stringify(items)}`);
      }
      assert.ok(items.some((t) => /^Copy seed \d+$/.test(t.trim())), JSON.stringify(items));
      await page.keyboard.press("Escape");
      await menu.waitFor({ state: "detached", timeout: WAIT });
      await page.mouse.move(0, 0);
      await screenshot(page, "gallery", theme);

      // The header: a link to the API docs, and the theme switch (plain markup, wired by boot).
      assert.equal(
        await page.getByRole("link", { name: "API docs" }).getAttribute("href"),
        "/api/v1/docs",
      );
      const other = theme === "dark" ? "light" : "dark";
      const toggle = page.getByRole("button", { name: `Switch to ${other} theme` });
      await toggle.click();
      await page.waitForFunction(
        (t) => document.documentElement.dataset.theme === t,
        other,
        { timeout: WAIT },
      );
      await page.getByRole("button", { name: `Switch to ${theme} theme` }).click();
      await page.waitForFunction(
        (t) => document.documentElement.dataset.theme === t,
        theme,
        { timeout: WAIT },
      );

      if (theme === "dark") {
        // A search over all prompts, kept in the URL across a reload.
        await page.locator("#h-search").fill("lighthouse");
        await page.waitForURL(/[?&]q=lighthouse/, { timeout: WAIT });
        await poll("one match", async () => await tiles.count() === 1 || undefined);
        await page.reload({ waitUntil: "load" });
        assert.equal(await page.locator("#h-search").inputValue(), "lighthouse");
        await poll("one match after a reload", async () => await tiles.count() === 1 || undefined);
        assert.match(
          (await tiles.first().locator(".tile-prompt").textContent()) ?? "",
          /portrait of a lighthouse/,
        );
        await page.getByRole("button", { name: "Done" }).click();
        await page.waitForURL(/status=completed/, { timeout: WAIT });
        assert.match(page.url(), /q=lighthouse/, "filters combine");
      }
      assert.deepEqual(errors, [], "console errors");
    } finally {
      await context.close();
    }
  }
}

/** Shift-click a range, star it (a server with stars), then delete it after confirming. */
async function selectionAndBulk(base: string, jobs: JobJson[]): Promise<void> {
  const context = await launchChromium({ viewport: DESKTOP });
  try {
    const { page, errors } = await openPage(context, "dark");
    await page.goto(`${base}/?tab=history`, { waitUntil: "load" });
    const tiles = page.locator("#panel-history .tile");
    await tiles.first().locator("img").waitFor({ timeout: WAIT });
    await tilesLoaded(page);
    // From the second tile to the sixth: the jobs those five tiles belong to. (Read once the list
    // is on the page: under load it can still be re-rendering after the first tile's image.)
    const from = 1;
    const to = 5;
    const order = await poll("the tiles' order", async () => {
      const ids = await tiles.evaluateAll((els) => els.map((e) => e.getAttribute("data-job")!));
      return ids.length > to ? ids : undefined;
    });
    const picked = [...new Set(order.slice(from, to + 1))];
    const box = (i: number) => tiles.nth(i).locator(".tile-check input");
    await tiles.nth(from).hover();
    await box(from).click();
    await tiles.nth(to).hover();
    await box(to).click({ modifiers: ["Shift"] });
    const bar = page.getByRole("region", { name: "Selected jobs" });
    await bar.waitFor({ timeout: WAIT });
    const imagesPicked = order.filter((id) => picked.includes(id)).length;
    assert.equal(
      (await bar.locator(".bulk-count strong").textContent())?.trim(),
      `${picked.length} jobs (${imagesPicked} images)`,
    );
    // Every tile of a picked job shows it (outline and a ticked box), and no other.
    const shown = await tiles.evaluateAll((els) =>
      els.map((e) => [
        e.getAttribute("data-job"),
        e.classList.contains("selected"),
        (e.querySelector(".tile-check input") as HTMLInputElement).checked,
      ])
    );
    for (const [id, outlined, ticked] of shown) {
      assert.equal(outlined, picked.includes(id as string), JSON.stringify(shown));
      assert.equal(ticked, picked.includes(id as string), JSON.stringify(shown));
    }
    await screenshot(page, "gallery-selection", "dark", false);

    // Stars, where the server has them (every job it sends says whether it is starred).
    if (jobs[0].starred !== undefined) {
      await bar.getByRole("button", { name: "Star", exact: true }).click();
      await poll("starred through the API", async () => {
        const now: JobJson[] = await Promise.all(
          picked.map(async (id) => await (await fetch(`${base}/api/v1/jobs/${id}`)).json()),
        );
        return now.every((j) => j.starred === true) || undefined;
      });
      await page.locator("#panel-history .tile.starred").first().waitFor({ timeout: WAIT });
      // The bulk star leaves the selection empty: pick the range again for the delete.
      await tiles.nth(from).hover();
      await box(from).click();
      await tiles.nth(to).hover();
      await box(to).click({ modifiers: ["Shift"] });
    }

    await bar.getByRole("button", { name: "Delete…" }).click();
    const confirm = bar.getByRole("group", { name: "Confirm delete" });
    await confirm.waitFor({ timeout: WAIT });
    // The safe choice has the focus.
    await page.waitForFunction(() => document.activeElement?.textContent?.trim() === "Keep", {
      timeout: WAIT,
    });
    await confirm.getByRole("button", { name: "Yes, delete" }).click();
    await poll(
      "the tiles gone",
      async () =>
        await page.locator("#panel-history .tile").evaluateAll(
          (els, gone) => els.every((e) => !gone.includes(e.getAttribute("data-job")!)),
          picked,
        ) || undefined,
    );
    for (const id of picked) {
      const res = await fetch(`${base}/api/v1/status/${id}`);
      await res.body?.cancel();
      assert.equal(res.status, 404, id);
    }
    await bar.waitFor({ state: "detached", timeout: WAIT });
    assert.deepEqual(errors, [], "console errors");
  } finally {
    await context.close();
  }
}

/** The lightbox shows the whole image (2:3 and 1:1) at 1440×900 and 1280×720. */
async function lightboxFit(base: string, portrait: JobJson, square: JobJson): Promise<void> {
  for (const [viewport, theme] of [[DESKTOP, "dark"], [LAPTOP, "light"]] as const) {
    const context = await launchChromium({ viewport });
    try {
      const { page, errors } = await openPage(context, theme);
      for (const job of [portrait, square]) {
        await page.goto(`${base}/?tab=history&job=${job.id}`, { waitUntil: "load" });
        const img = page.locator(".lb img.lb-img");
        await img.waitFor({ timeout: WAIT });
        await page.waitForFunction(
          (el) => (el as HTMLImageElement).complete && (el as HTMLImageElement).naturalWidth > 0,
          await img.elementHandle(),
          { timeout: WAIT },
        );
        const m = await img.evaluate((el) => {
          const i = el as HTMLImageElement;
          const r = i.getBoundingClientRect();
          const s = i.closest(".lb-stage")!.getBoundingClientRect();
          return {
            top: r.top,
            bottom: r.bottom,
            left: r.left,
            right: r.right,
            width: r.width,
            height: r.height,
            natural: i.naturalWidth / i.naturalHeight,
            stage: { top: s.top, bottom: s.bottom, left: s.left, right: s.right },
            vw: innerWidth,
            vh: innerHeight,
          };
        });
        const what = `${job.prompt} at ${viewport.width}×${viewport.height}: ${JSON.stringify(m)}`;
        // Inside the stage and the window...
        assert.ok(m.top >= m.stage.top - 0.5 && m.bottom <= m.stage.bottom + 0.5, what);
        assert.ok(m.left >= m.stage.left - 0.5 && m.right <= m.stage.right + 0.5, what);
        assert.ok(m.top >= 0 && m.bottom <= m.vh && m.left >= 0 && m.right <= m.vw, what);
        // ...100 % of its height visible, undistorted, and not a thumbnail-sized stamp.
        const visible = Math.min(m.bottom, m.vh, m.stage.bottom) - Math.max(m.top, 0, m.stage.top);
        assert.ok(visible / m.height > 0.999, `${(visible / m.height * 100).toFixed(1)} % ${what}`);
        assert.ok(Math.abs(m.width / m.height - m.natural) < 0.01, what);
        assert.ok(m.height > viewport.height * 0.6, what);
        await screenshot(
          page,
          `lightbox-${job.images[0].width}x${job.images[0].height}`,
          theme,
          false,
        );
      }
      assert.deepEqual(errors, [], "console errors");
    } finally {
      await context.close();
    }
  }
}

/** On a phone, Generate stays on screen and a submitted job scrolls into view. */
async function phoneLayout(base: string): Promise<void> {
  for (const theme of ["light", "dark"] as const) {
    const context = await launchChromium({ viewport: PHONE });
    try {
      const { page, errors } = await openPage(context, theme);
      await page.goto(`${base}/`, { waitUntil: "load" });
      await page.locator("#f-model:not([disabled])").waitFor({ timeout: WAIT });
      const button = page.getByRole("button", { name: /^Generate/ });
      const inView = async (locator: ReturnType<Page["locator"]>) => {
        const b = await locator.boundingBox();
        return !!b && b.y >= 0 && b.y + b.height <= PHONE.height;
      };
      assert.equal(await page.evaluate(() => scrollY), 0);
      assert.ok(await inView(button), "the Generate button is on screen without scrolling");
      assert.ok(
        await page.evaluate(() => document.documentElement.scrollHeight > innerHeight),
        "the form is taller than the screen (the button is held, not just short content)",
      );
      await screenshot(page, "phone-generate", theme, false);
      if (theme === "light") {
        const prompt = `phone job ${Date.now()}`;
        await page.locator("#f-prompt").fill(prompt);
        await button.click();
        const card = page.locator("#panel-generate article.card").filter({
          has: page.locator(".prompt", { hasText: prompt }),
        });
        await card.waitFor({ timeout: WAIT });
        // Its card is on screen (top in the upper part: its image and prompt show).
        await poll("the new job in view", async () => {
          const b = await card.boundingBox();
          return b && b.y >= 0 && b.y < PHONE.height * 0.6 || undefined;
        });
        assert.ok(await page.evaluate(() => scrollY) > 0, "the page scrolled to the job");
        await screenshot(page, "phone-submitted", theme, false);
      }
      await page.locator("#tab-history").click();
      await page.locator("#panel-history .tile img").first().waitFor({ timeout: WAIT });
      await tilesLoaded(page);
      await screenshot(page, "phone-gallery", theme, false);
      assert.deepEqual(errors, [], "console errors");
    } finally {
      await context.close();
    }
  }
}

/** A PNG with AUTOMATIC1111's `parameters` text, made here (CRCs and all). */
function a1111Png(text: string): Uint8Array {
  const crc = (bytes: Uint8Array) => {
    let c = ~0 >>> 0;
    for (const b of bytes) {
      c ^= b;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    }
    return ~c >>> 0;
  };
  const chunk = (type: string, data: number[]) => {
    const body = [...type].map((c) => c.charCodeAt(0)).concat(data);
    const out = new Uint8Array(4 + body.length + 4);
    const view = new DataView(out.buffer);
    view.setUint32(0, data.length);
    out.set(body, 4);
    view.setUint32(4 + body.length, crc(out.subarray(4, 4 + body.length)));
    return [...out];
  };
  const ihdr = [0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0];
  const text8 = [..."parameters"].map((c) => c.charCodeAt(0)).concat(
    [0],
    [...new TextEncoder().encode(text)],
  );
  return new Uint8Array([
    0x89,
    0x50,
    0x4e,
    0x47,
    0x0d,
    0x0a,
    0x1a,
    0x0a,
    ...chunk("IHDR", ihdr),
    ...chunk("tEXt", text8),
    ...chunk("IEND", []),
  ]);
}

/** The advanced settings' summary when collapsed, and a PNG's settings dropped on the form. */
async function formExtras(base: string): Promise<void> {
  const context = await launchChromium({ viewport: DESKTOP });
  try {
    const { page, errors } = await openPage(context, "dark");
    await page.goto(`${base}/`, { waitUntil: "load" });
    await page.locator("#f-model:not([disabled])").waitFor({ timeout: WAIT });
    const advanced = page.getByRole("button", { name: /^Advanced settings/ });
    await advanced.click();
    await page.locator("#f-priority").selectOption("low");
    await page.locator("#f-extra").fill('{"scheduler":"K_EULER"}');
    await advanced.click();
    assert.equal(await advanced.getAttribute("aria-expanded"), "false");
    assert.deepEqual(await advanced.locator(".adv-chip").allInnerTexts(), [
      "low priority",
      "scheduler=K_EULER",
    ]);

    const text = "a red fox in the snow, golden hour\nNegative prompt: blurry\n" +
      "Steps: 30, Sampler: Euler a, CFG scale: 6.5, Seed: 424242, Size: 832x1216, Model: local/marble";
    const bytes = [...a1111Png(text)];
    await page.evaluate((data) => {
      const file = new File([new Uint8Array(data)], "fox.png", { type: "image/png" });
      const dt = new DataTransfer();
      dt.items.add(file);
      const target = document.getElementById("f-prompt")!;
      for (const type of ["dragenter", "dragover", "drop"]) {
        target.dispatchEvent(
          new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }),
        );
      }
    }, bytes);
    const offer = page.getByRole("region", { name: "Settings from a dropped image" });
    await offer.waitFor({ timeout: WAIT });
    await offer.getByRole("button", { name: "Use these settings" }).waitFor({ timeout: WAIT });
    assert.match(await offer.innerText(), /AUTOMATIC1111/);
    assert.match(await offer.innerText(), /424242/);
    await screenshot(page, "png-drop", "dark", false);
    await offer.getByRole("button", { name: "Use these settings" }).click();
    await offer.waitFor({ state: "detached", timeout: WAIT });
    assert.equal(
      await page.locator("#f-prompt").inputValue(),
      "a red fox in the snow, golden hour",
    );
    assert.equal(await page.locator("#f-seed").inputValue(), "424242");
    assert.equal(await page.locator("#f-model").inputValue(), "local/marble");
    await page.locator('.schema-fields[data-model="local/marble"]').waitFor({ timeout: WAIT });
    assert.ok(await page.locator("#f-aspect-2-3").isChecked(), "832×1216 is 2:3");
    await page.locator("#f-negative").waitFor({ state: "attached" });
    assert.equal(await page.locator("#f-negative").inputValue(), "blurry");
    assert.deepEqual(errors, [], "console errors");
  } finally {
    await context.close();
  }
}
