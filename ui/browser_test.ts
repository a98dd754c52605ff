/**
 * The UI in a real browser, end to end: a fresh database, the real `api` and `worker` processes,
 * and Debian's Chromium driven by playwright-core. Submits a prompt by keyboard, watches it run
 * and finish without a reload, opens it in the lightbox, reloads, visits every tab, deletes the job,
 * and saves a screenshot of each tab on a phone and a desktop viewport under
 * test-output/screenshots/. A second run turns API keys on (AUTH_MODE=api_key, no worker, so jobs
 * stay queued): the key prompt, a revoked key, cancel / retry / delete and the submit rate limit.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import type { JobJson } from "../shared/jobs/json.ts";
import {
  launchChromium,
  pickModel,
  poll,
  screenshot,
  UI_WAIT,
  uiTest,
} from "../shared/testing/browser.ts";
import { runTask, startService, waitForHttp } from "../shared/testing/processes.ts";

const XSS = "<img src=x onerror=alert(1)>";
const PROMPT = `${XSS} a lighthouse at dusk`;
const MODEL = "local/aurora";
/** The 16:9 chip: the smallest of the form's sizes (1344 × 768 = 1.03 Mpx). */
const ASPECT_ID = "#f-aspect-16-9";
const SIZE = { width: 1344, height: 768 };
const DESKTOP = { width: 1440, height: 900 };
const PHONE = { width: 390, height: 844 };

/** A visible progress bar seen on the job's card: card classes, value (null = indeterminate). */
interface ProgressSample {
  status: string;
  value: number | null;
  width: number;
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  assert.equal(res.status, 200, `GET ${url}`);
  return await res.json() as T;
}

/** Waits until every image shown in the visible tab panel (and the lightbox) has loaded. */
async function imagesLoaded(page: Page): Promise<void> {
  await page.waitForFunction(
    () => {
      const imgs = [...document.querySelectorAll<HTMLImageElement>("[data-tab]:not([hidden]) img")];
      return imgs.every((i) => i.complete && i.naturalWidth > 0);
    },
    undefined,
    { timeout: UI_WAIT },
  );
}

/** Waits until the tab's content is there and settled, so a screenshot shows the real page. */
async function tabReady(page: Page, tab: string): Promise<void> {
  await page.locator(`#tab-${tab}[aria-selected="true"]`).waitFor({ timeout: UI_WAIT });
  await page.locator(`#panel-${tab}`).waitFor({ state: "visible", timeout: UI_WAIT });
  if (tab === "generate") {
    await page.locator("#f-prompt").waitFor({ state: "visible", timeout: UI_WAIT });
    await page.locator("#panel-generate article.card img").first().waitFor({ timeout: UI_WAIT });
  } else if (tab === "history") {
    await page.locator("#panel-history .tile img").first().waitFor({ timeout: UI_WAIT });
  } else {
    await page.getByText("Live · refreshes every few seconds").waitFor({ timeout: UI_WAIT });
  }
  await imagesLoaded(page);
}

uiTest(
  "ui: a prompt goes from the keyboard to a stored image in a real browser",
  "ui browser test",
  { LOCAL_STEP_MS: "80" },
  async ({ env, base, profile, services }) => {
    const api = await startService("api", env);
    services.push(api);
    services.push(await startService("worker", env));
    // The api task may build the UI first: give it time.
    await waitForHttp(`${base}/api/v1/health`, 120_000, api);
    // Setup, not a check: the worker's first heartbeat, so the page starts from a steady state.
    await poll("a worker online", async () => {
      const h = await getJson<{ checks: { workers?: { online: number } } }>(
        `${base}/api/v1/health`,
      );
      return (h.checks.workers?.online ?? 0) >= 1 ? true : undefined;
    });
    await runBrowser(base, profile);
  },
);

async function runBrowser(base: string, profile: string): Promise<void> {
  const origin = new URL(base);
  const context = await launchChromium({ profile: profile, viewport: DESKTOP });
  const requests: string[] = [];
  const consoleErrors: string[] = [];
  const dialogs: string[] = [];
  try {
    // 1. Every request of every page of the context, and every error the page reports.
    context.on("request", (req) => void requests.push(req.url()));
    const page = context.pages()[0] ?? await context.newPage();
    page.on("console", (msg) => {
      if (msg.type() === "error") {
        const at = msg.location();
        consoleErrors.push(`console: ${msg.text()} (${at.url}:${at.lineNumber})`);
      }
    });
    page.on("pageerror", (err) => void consoleErrors.push(`pageerror: ${err.message}`));
    page.on("dialog", (dialog) => {
      dialogs.push(`${dialog.type()}: ${dialog.message()}`);
      void dialog.dismiss().catch(() => {});
    });

    // 2 + 7. Open the page; its policy only lets this origin's scripts run.
    const meAnswer = page.waitForResponse((r) => r.url() === `${base}/api/v1/me`, {
      timeout: UI_WAIT,
    });
    const response = await page.goto(`${base}/`, { waitUntil: "load" });
    assert.ok(response, "no response for /");
    assert.equal(response.status(), 200);
    const csp = response.headers()["content-security-policy"] ?? "";
    const scriptSrc = csp.split(";").map((d) => d.trim()).find((d) => d.startsWith("script-src"));
    assert.equal(scriptSrc, "script-src 'self'", `Content-Security-Policy: ${csp}`);

    const prompt = page.locator("#f-prompt");
    await prompt.waitFor({ state: "visible", timeout: UI_WAIT });
    await page.waitForFunction(() => document.activeElement?.id === "f-prompt", undefined, {
      timeout: UI_WAIT,
    });

    // AUTH_MODE unset on 127.0.0.1: the API is open, so no key is asked for or shown (and the
    // key islands are not even downloaded).
    const me = await meAnswer;
    assert.equal(me.status(), 200);
    assert.deepEqual(await me.json(), { auth_required: false, authenticated: true, key: null });
    assert.equal(me.request().headers().authorization, undefined, "no key stored, none sent");
    await page.locator("#f-model:not([disabled])").waitFor({ timeout: UI_WAIT });
    assert.equal(await page.getByRole("dialog").count(), 0, "no key prompt");
    assert.equal(await page.locator("#key-input").count(), 0);
    assert.equal(await page.getByRole("button", { name: "Sign out" }).count(), 0);
    assert.ok(!requests.some((u) => /\/Key(Prompt|Status)-/.test(u)), "key islands not loaded");

    // The picker offers exactly the models the API lists, the local ones among them.
    const modelsJson = await getJson<{ models: { id: string; provider: string }[] }>(
      `${base}/api/v1/models`,
    );
    const localIds = modelsJson.models.filter((m) => m.provider === "local").map((m) => m.id);
    assert.ok(localIds.includes(MODEL), `models: ${localIds}`);
    const picker = page.locator("#f-model:not([disabled])");
    await picker.waitFor({ timeout: UI_WAIT });
    const optionValues = (os: Element[]) => os.map((o) => (o as HTMLElement).dataset.value);
    const offered = await page.locator('#f-model-list [role="option"]').evaluateAll(optionValues);
    assert.deepEqual(offered.sort(), modelsJson.models.map((m) => m.id).sort());
    const localGroup = await page.locator("#f-model-list [aria-labelledby='f-model-g-local']")
      .locator('[role="option"]').evaluateAll(optionValues);
    assert.equal(
      await page.locator("#f-model-g-local").textContent(),
      "Local (offline)",
    );
    assert.deepEqual(localGroup.sort(), [...localIds].sort());

    // 3. Type the prompt (the box has the focus), pick the settings, submit with the keyboard.
    await page.keyboard.type(PROMPT);
    assert.equal(await prompt.inputValue(), PROMPT);
    await pickModel(page, MODEL);
    await page.locator("#f-in-num_outputs-0").check();
    await page.locator(ASPECT_ID).check();
    assert.equal(await picker.inputValue(), MODEL);
    await page.getByRole("button", { name: "Advanced settings" }).click();
    assert.equal(await page.locator("#f-priority").inputValue(), "normal");
    await page.getByLabel("Priority", { exact: true }).selectOption("high");

    // Watch the job's card from inside the page, so a short run cannot slip between two polls.
    await page.evaluate((marker) => {
      const seen: ProgressSample[] = [];
      (globalThis as unknown as { __progress: typeof seen }).__progress = seen;
      const record = () => {
        for (const card of document.querySelectorAll("#panel-generate article.card")) {
          if (!card.querySelector(".prompt")?.textContent?.includes(marker)) continue;
          const bar = card.querySelector("progress");
          if (!bar || !bar.checkVisibility()) continue;
          seen.push({
            status: card.className,
            value: bar.hasAttribute("value") ? bar.value : null,
            width: bar.getBoundingClientRect().width,
          });
        }
      };
      new MutationObserver(record).observe(document.body, {
        subtree: true,
        childList: true,
        attributes: true,
        characterData: true,
      });
    }, "a lighthouse at dusk");

    const submitted = page.waitForResponse(
      (r) => r.url() === `${base}/api/v1/generate` && r.request().method() === "POST",
      { timeout: UI_WAIT },
    );
    await prompt.focus();
    await page.keyboard.press("Control+Enter");
    const accepted = await submitted;
    assert.equal(accepted.status(), 202);
    const jobId = (await accepted.json() as { job_id: string }).job_id;
    const sentBody = JSON.parse(accepted.request().postData() ?? "{}");
    assert.equal(sentBody.prompt, PROMPT);
    assert.equal(sentBody.model, MODEL);
    assert.equal(sentBody.parameters.width, SIZE.width);
    assert.equal(sentBody.parameters.height, SIZE.height);
    assert.equal(sentBody.parameters.num_outputs, 1);
    assert.equal(sentBody.priority, "high");

    // The job shows up at once in Recent, with a progress bar while it runs...
    const card = page.locator("#panel-generate article.card").filter({
      has: page.locator(".prompt", { hasText: PROMPT }),
    });
    await card.locator("progress").waitFor({ state: "visible", timeout: UI_WAIT });
    // ...then its image, stored by the worker and served under /images/.
    const cardImg = card.locator('img[src^="/images/"]');
    await cardImg.waitFor({ state: "visible", timeout: UI_WAIT });
    await page.waitForFunction(
      (el) => (el as HTMLImageElement).complete && (el as HTMLImageElement).naturalWidth > 0,
      await cardImg.elementHandle(),
      { timeout: UI_WAIT },
    );
    await card.locator("progress").waitFor({ state: "detached", timeout: UI_WAIT });
    const progress = await page.evaluate(() =>
      (globalThis as unknown as { __progress: ProgressSample[] })
        .__progress
    );
    assert.ok(progress.length > 0, "no visible progress bar was seen");
    assert.ok(
      progress.some((p) =>
        p.status.includes("card-processing") && p.value !== null &&
        p.value > 0 && p.value < 100
      ),
      `no determinate progress while processing: ${JSON.stringify(progress)}`,
    );
    assert.ok(progress.every((p) => p.width > 0), JSON.stringify(progress));

    const job = await getJson<JobJson>(`${base}/api/v1/status/${jobId}`);
    assert.equal(job.status, "completed");
    assert.equal(job.prompt, PROMPT);
    assert.equal(job.model, MODEL);
    assert.equal(job.images.length, 1);
    assert.equal(job.priority, "high");
    // The card shows the thumbnail; the full image only where the tile is drawn larger.
    assert.equal(await cardImg.getAttribute("src"), job.images[0].thumbnail_url);
    assert.equal(
      await cardImg.getAttribute("srcset"),
      `${job.images[0].thumbnail_url} 512w, ${job.images[0].url} ${SIZE.width}w`,
    );
    assert.equal(
      await cardImg.evaluate((el) => (el as HTMLImageElement).currentSrc),
      `${base}${job.images[0].thumbnail_url}`,
    );
    await card.locator(".tag-high").waitFor({ timeout: UI_WAIT });
    // A finished job offers delete (and nothing to cancel).
    await card.getByRole("button", { name: "Delete", exact: true }).waitFor({ timeout: UI_WAIT });
    assert.equal(await card.getByRole("button", { name: "Cancel" }).count(), 0);

    // The prompt is text, never markup.
    await assertNoInjection(page, dialogs);

    // 4. History by keyboard: the tablist moves with the arrow keys.
    await page.locator("#tab-generate").focus();
    await page.keyboard.press("ArrowRight");
    await page.locator("#tab-history[aria-selected='true']").waitFor({ timeout: UI_WAIT });
    assert.match(page.url(), /[?&]tab=history/);
    // History: one tile per image, the prompt on it.
    const historyCard = page.locator("#panel-history .tile").filter({
      has: page.locator(".tile-prompt", { hasText: PROMPT }),
    });
    await historyCard.waitFor({ state: "visible", timeout: UI_WAIT });
    await historyCard.locator(`img[src="${job.images[0].thumbnail_url}"]`).waitFor({
      timeout: UI_WAIT,
    });
    await historyCard.getByRole("button", { name: "Open image 1 of 1" }).click();

    const dialog = page.getByRole("dialog");
    await dialog.waitFor({ state: "visible", timeout: UI_WAIT });
    const full = dialog.locator("img.lb-img");
    await full.waitFor({ state: "visible", timeout: UI_WAIT });
    assert.equal(await full.getAttribute("src"), job.images[0].url);
    await page.waitForFunction(
      (el) => (el as HTMLImageElement).complete && (el as HTMLImageElement).naturalWidth > 0,
      await full.elementHandle(),
      { timeout: UI_WAIT },
    );
    const natural = await full.evaluate((el) => {
      const img = el as HTMLImageElement;
      return { width: img.naturalWidth, height: img.naturalHeight };
    });
    assert.deepEqual(natural, SIZE, "the lightbox shows the full-size image");
    assert.equal((await dialog.locator(".lb-prompt").first().textContent())?.trim(), PROMPT);
    const settings = await dialog.locator(".kv").evaluateAll((rows) =>
      Object.fromEntries(rows.map((r) => [
        r.querySelector("dt")?.textContent?.trim() ?? "",
        r.querySelector(".kv-value")?.textContent?.trim() ?? "",
      ]))
    );
    assert.equal(settings.Model, MODEL, JSON.stringify(settings));
    assert.equal(settings.Size, `${SIZE.width} × ${SIZE.height}`, JSON.stringify(settings));
    assert.equal(settings.Images, "1", JSON.stringify(settings));
    assert.equal(settings.Seed, String(job.parameters.seed), JSON.stringify(settings));
    assert.equal(settings["Job id"], job.id, JSON.stringify(settings));
    await screenshot(page, "lightbox", DESKTOP);
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached", timeout: UI_WAIT });
    assert.doesNotMatch(page.url(), /[?&]job=/);

    // 5. A reload still shows the job in History: the state comes from the API.
    await page.reload({ waitUntil: "load" });
    await page.locator("#tab-history[aria-selected='true']").waitFor({ timeout: UI_WAIT });
    await historyCard.waitFor({ state: "visible", timeout: UI_WAIT });
    const reloadedImg = historyCard.locator(`img[src="${job.images[0].thumbnail_url}"]`);
    await reloadedImg.waitFor({ state: "visible", timeout: UI_WAIT });
    await imagesLoaded(page);
    await assertNoInjection(page, dialogs);

    // 6. Architecture: the diagram, with live figures from /stats.
    await page.locator("#tab-history").focus();
    await page.keyboard.press("ArrowRight");
    await page.locator("#tab-architecture[aria-selected='true']").waitFor({ timeout: UI_WAIT });
    const diagram = page.locator('#panel-architecture figure.diagram svg[role="img"]');
    await diagram.waitFor({ state: "visible", timeout: UI_WAIT });
    const stats = await getJson<{ workers: { online: number } }>(`${base}/api/v1/stats`);
    assert.ok(stats.workers.online >= 1, JSON.stringify(stats));
    const workersTitle = diagram.locator(".node-worker .node-title");
    await page.waitForFunction(
      (el) => /Workers × [1-9]/.test(el?.textContent ?? ""),
      await workersTitle.elementHandle(),
      { timeout: UI_WAIT },
    );
    assert.equal(await workersTitle.textContent(), `Workers × ${stats.workers.online}`);
    const dbLines = await diagram.locator(".node-db .node-line").allTextContents();
    assert.match(dbLines.join(" | "), /\b1 job \/ hour\b.*\b1 done\b/);

    // 8. Every tab, on a phone and on a desktop.
    for (const viewport of [PHONE, DESKTOP]) {
      await page.setViewportSize(viewport);
      for (const tab of ["generate", "history", "architecture"]) {
        await page.locator(`#tab-${tab}`).click();
        await tabReady(page, tab);
        await screenshot(page, tab, viewport);
      }
    }

    // 9. Delete the job from History (in the tile's menu): asked first, then gone from the page
    // and the API.
    await page.locator("#tab-history").click();
    await historyCard.waitFor({ state: "visible", timeout: UI_WAIT });
    await historyCard.hover();
    await historyCard.getByRole("button", { name: "More actions" }).click();
    await historyCard.getByRole("menuitem", { name: "Delete…" }).click();
    const confirm = historyCard.getByRole("group", { name: "Confirm delete" });
    await confirm.waitFor({ timeout: UI_WAIT });
    assert.equal(
      await page.evaluate(() => document.activeElement?.textContent?.trim()),
      "Keep",
      "the safe choice has the focus",
    );
    const deleted = page.waitForResponse(
      (r) => r.url() === `${base}/api/v1/jobs/${jobId}` && r.request().method() === "DELETE",
      { timeout: UI_WAIT },
    );
    await confirm.getByRole("button", { name: "Yes, delete" }).click();
    await historyCard.waitFor({ state: "detached", timeout: UI_WAIT });
    assert.equal((await deleted).status(), 204);
    const gone = await fetch(`${base}/api/v1/status/${jobId}`);
    await gone.body?.cancel();
    assert.equal(gone.status, 404);

    // 1. Nothing left the machine, and the page reported no error.
    assert.ok(requests.length > 0);
    const outside = requests.filter((u) => {
      const url = new URL(u);
      return url.hostname !== "127.0.0.1" || url.port !== origin.port;
    });
    assert.deepEqual(outside, [], "requests to other hosts");
    assert.deepEqual(consoleErrors, [], "console errors");
    assert.deepEqual(dialogs, [], "dialogs");
  } finally {
    await context.close();
  }
}

/** Makes an API key with the keys task; returns the secret and the key's id. */
async function createKey(
  env: Record<string, string>,
  name: string,
): Promise<{ key: string; id: string }> {
  const made = await runTask(["keys", "create", "--name", name], env);
  assert.equal(made.code, 0, made.output);
  const key = /API key:\s+(dr_\S+)/.exec(made.output)?.[1];
  const id = /\(([0-9a-f-]{36})\)/.exec(made.output)?.[1];
  assert.ok(key && id, made.output);
  return { key, id };
}

// No worker: jobs stay queued, so cancel and retry are not a race with the run.
uiTest(
  "ui: with API keys, the page asks for one, checks it, notices a revoked one, forgets it",
  "ui key browser test",
  { AUTH_MODE: "api_key", RATE_LIMIT_PER_MINUTE: "2" },
  async ({ env, base, profile, services }) => {
    const first = await createKey(env, "ui-browser");
    const api = await startService("api", env);
    services.push(api);
    await waitForHttp(`${base}/api/v1/health`, 120_000, api);
    await runKeyBrowser(base, profile, env, first);
  },
);

async function runKeyBrowser(
  base: string,
  profile: string,
  env: Record<string, string>,
  first: { key: string; id: string },
): Promise<void> {
  const context = await launchChromium({ profile: profile, viewport: DESKTOP });
  const consoleErrors: string[] = [];
  const dialogs: string[] = [];
  /** Every API request: its URL and the Authorization header it carried. */
  const apiRequests: { url: string; authorization: string | undefined }[] = [];
  try {
    context.on("request", (req) => {
      if (new URL(req.url()).pathname.startsWith("/api/v1/")) {
        apiRequests.push({ url: req.url(), authorization: req.headers().authorization });
      }
    });
    const page = context.pages()[0] ?? await context.newPage();
    page.on("console", (msg) => {
      // The refusals this test provokes (a revoked key, the rate limit) are logged by Chromium.
      if (msg.type() === "error" && !/status of (401|429)\b/.test(msg.text())) {
        consoleErrors.push(`console: ${msg.text()}`);
      }
    });
    page.on("pageerror", (err) => void consoleErrors.push(`pageerror: ${err.message}`));
    page.on("dialog", (dialog) => {
      dialogs.push(`${dialog.type()}: ${dialog.message()}`);
      void dialog.dismiss().catch(() => {});
    });
    const stored = () =>
      page.evaluate(() => [
        localStorage.getItem("darkroom.api_key"),
        sessionStorage.getItem("darkroom.api_key"),
      ]);
    const keyLeaks = (key: string) => [page.url(), ...consoleErrors].some((t) => t.includes(key));

    // No key yet: the prompt opens, focused on a password field, and says where keys come from.
    await page.goto(`${base}/`, { waitUntil: "load" });
    const prompt = page.getByRole("dialog", { name: "This Darkroom needs an API key" });
    await prompt.waitFor({ state: "visible", timeout: UI_WAIT });
    const input = prompt.getByLabel("API key", { exact: true });
    assert.equal(await input.getAttribute("type"), "password");
    assert.equal(await input.getAttribute("autocomplete"), "off");
    await page.waitForFunction(() => document.activeElement?.id === "key-input", undefined, {
      timeout: UI_WAIT,
    });
    assert.match(await prompt.innerText(), /deno task keys create --name NAME/);
    assert.deepEqual(
      apiRequests.map((r) => new URL(r.url).pathname).filter((p) => p !== "/api/v1/health"),
      ["/api/v1/me"],
      "nothing else is asked before there is a key",
    );

    // A wrong key is refused and not kept.
    await input.fill(`dr_${"x".repeat(32)}`);
    await input.press("Enter");
    await prompt.getByText("That key is not valid or was revoked").waitFor({ timeout: UI_WAIT });
    assert.ok(await prompt.isVisible());
    assert.deepEqual(await stored(), [null, null]);

    // The right one, remembered: the prompt closes, the header names the key, the live feed
    // connects with the key in its URL (EventSource cannot send headers).
    await input.fill(first.key);
    await prompt.getByLabel("Remember on this device").check();
    const events = page.waitForResponse(
      (r) => new URL(r.url()).pathname === "/api/v1/events",
      { timeout: UI_WAIT },
    );
    await input.press("Enter");
    await prompt.waitFor({ state: "hidden", timeout: UI_WAIT });
    const stream = await events;
    assert.equal(stream.status(), 200);
    assert.equal(new URL(stream.url()).searchParams.get("access_token"), first.key);
    await page.locator(".key-status").getByText("ui-browser").waitFor({ timeout: UI_WAIT });
    assert.deepEqual(await stored(), [first.key, null]);
    assert.equal(
      await page.locator("#key-input").inputValue(),
      "",
      "the key is not kept in the page",
    );

    // A reload keeps the key: no prompt; every API call carries it.
    await page.reload({ waitUntil: "load" });
    await page.locator(".key-status").getByText("ui-browser").waitFor({ timeout: UI_WAIT });
    await page.locator("#f-model:not([disabled])").waitFor({ timeout: UI_WAIT });
    assert.equal(await prompt.isVisible(), false);
    const sent = apiRequests.filter((r) => new URL(r.url).pathname === "/api/v1/jobs");
    assert.ok(sent.length > 0);
    assert.ok(sent.every((r) => r.authorization === `Bearer ${first.key}`), JSON.stringify(sent));

    // Submits, the first with high priority, until one is refused (2 a minute, in fixed windows:
    // the third, or at worst the fifth when a minute ends in between), with the server's message
    // and a countdown; the draft stays.
    await pickModel(page, MODEL);
    await page.getByRole("button", { name: "Advanced settings" }).click();
    await page.getByLabel("Priority", { exact: true }).selectOption("high");
    const submit = async (text: string) => {
      const answer = page.waitForResponse(
        (r) => r.url() === `${base}/api/v1/generate` && r.request().method() === "POST",
        { timeout: UI_WAIT },
      );
      await page.locator("#f-prompt").fill(text);
      await page.getByRole("button", { name: /^Generate/ }).click();
      return await answer;
    };
    const accepted = await submit("first queued job");
    assert.equal(accepted.status(), 202);
    assert.equal(JSON.parse(accepted.request().postData() ?? "{}").priority, "high");
    const jobId = (await accepted.json() as { job_id: string }).job_id;
    let draftText = "";
    let refused = false;
    for (let n = 2; n <= 5 && !refused; n++) {
      draftText = `queued job number ${n}`;
      const status = (await submit(draftText)).status();
      refused = status === 429;
      if (!refused) assert.equal(status, 202);
    }
    assert.ok(refused, "no 429 within 5 submits at 2 a minute");
    const notice = page.locator("#rate-limit");
    await notice.waitFor({ timeout: UI_WAIT });
    assert.match(
      await notice.innerText(),
      /Too many submits: at most 2 a minute\. You can submit again in \d+ s\./,
    );
    assert.equal(await page.locator("#f-prompt").inputValue(), draftText);

    // Cancel, retry, delete on the queued job's card, each shown at once and done by the API.
    const card = page.locator("#panel-generate article.card").filter({
      has: page.locator(".prompt", { hasText: "first queued job" }),
    });
    await card.locator(".tag-high").waitFor({ timeout: UI_WAIT });
    const status = async () => {
      const res = await fetch(`${base}/api/v1/status/${jobId}`, {
        headers: { authorization: `Bearer ${first.key}` },
      });
      return res.status === 200 ? (await res.json() as JobJson).status : String(res.status);
    };
    await card.getByRole("button", { name: "Cancel", exact: true }).click();
    await card.locator(".badge-canceled").waitFor({ timeout: UI_WAIT });
    await poll("canceled", async () => await status() === "canceled" ? true : undefined);
    await card.getByRole("button", { name: "Retry", exact: true }).click();
    await card.locator(".badge-pending").waitFor({ timeout: UI_WAIT });
    await poll("queued again", async () => await status() === "pending" ? true : undefined);
    await card.getByRole("button", { name: "Delete", exact: true }).click();
    await card.getByRole("button", { name: "Yes, delete" }).click();
    await card.waitFor({ state: "detached", timeout: UI_WAIT });
    await poll("deleted", async () => await status() === "404" ? true : undefined);

    // The key is revoked: its live stream ends at once, the page's next call is refused and the
    // prompt opens again on its own (no click needed, and none possible under it), draft intact.
    const revoked = await runTask(["keys", "revoke", first.id], env);
    assert.equal(revoked.code, 0, revoked.output);
    await prompt.waitFor({ state: "visible", timeout: UI_WAIT });
    await prompt.getByText("The key in use was refused").waitFor({ timeout: UI_WAIT });
    assert.deepEqual(await stored(), [null, null], "the revoked key is forgotten");
    assert.equal(await page.locator("#f-prompt").inputValue(), draftText);

    // Esc puts the prompt away; the header offers it again.
    await page.keyboard.press("Escape");
    await prompt.waitFor({ state: "hidden", timeout: UI_WAIT });
    await page.locator("#tab-history").click();
    await page.getByRole("button", { name: "Enter API key" }).click();
    await prompt.waitFor({ state: "visible", timeout: UI_WAIT });

    // Another key, for this tab only: its (empty) history, nothing of the first key's jobs.
    const second = await createKey(env, "ui-second");
    const remember = prompt.getByLabel("Remember on this device");
    assert.equal(await remember.isChecked(), true, "the last choice is offered again");
    await remember.uncheck();
    await input.fill(second.key);
    await input.press("Enter");
    await prompt.waitFor({ state: "hidden", timeout: UI_WAIT });
    await page.locator(".key-status").getByText("ui-second").waitFor({ timeout: UI_WAIT });
    assert.deepEqual(await stored(), [null, second.key]);
    await page.getByText("No images yet.").waitFor({ timeout: UI_WAIT });
    assert.equal(await page.locator("article.card").count(), 0);
    await page.setViewportSize(PHONE);
    await screenshot(page, "key-signed-in", PHONE);
    await page.setViewportSize(DESKTOP);

    // Sign out: asked first, then the key is forgotten and the prompt is back.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("button", { name: "Forget key" }).click();
    await prompt.waitFor({ state: "visible", timeout: UI_WAIT });
    await prompt.getByText("Signed out").waitFor({ timeout: UI_WAIT });
    assert.deepEqual(await stored(), [null, null]);
    await screenshot(page, "key-prompt", DESKTOP);

    assert.ok(!keyLeaks(first.key) && !keyLeaks(second.key), "a key in the URL or the console");
    assert.deepEqual(consoleErrors, [], "console errors");
    assert.deepEqual(dialogs, [], "dialogs");
  } finally {
    await context.close();
  }
}

async function assertNoInjection(page: Page, dialogs: string[]): Promise<void> {
  const text = await page.evaluate(() => document.body.innerText);
  assert.ok(text.includes(XSS), "the prompt is shown as literal text");
  const injected = await page.evaluate(() =>
    [...document.querySelectorAll("img")].filter((i) =>
      i.getAttribute("src") === "x" || i.hasAttribute("onerror")
    ).length
  );
  assert.equal(injected, 0, "an <img src=x> element was created from the prompt");
  assert.deepEqual(dialogs, [], "a dialog fired");
}

/** Image bytes History may load at 1440×900 with a full page of 1024 px jobs. */
const HISTORY_IMAGE_BUDGET = 2 * 1024 * 1024;

uiTest(
  "ui: History with 24 finished 1024 px jobs loads at most 2 MB of images (thumbnails)",
  "ui page weight test",
  { LOCAL_STEP_MS: "0" },
  async ({ env, base, profile, services }) => {
    const api = await startService("api", env);
    services.push(api);
    services.push(await startService("worker", env));
    await waitForHttp(`${base}/api/v1/health`, 120_000, api);
    // A full History page: 24 jobs of 1024 × 1024 images, every fourth with two of them.
    const styles = ["local/aurora", "local/marble", "local/plasma", "local/abstract"];
    for (let i = 0; i < 24; i++) {
      const res = await fetch(`${base}/api/v1/generate`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          prompt: `page weight ${i}: a harbour at dawn`,
          model: styles[i % styles.length],
          parameters: { width: 1024, height: 1024, num_outputs: i % 4 === 0 ? 2 : 1, seed: i },
        }),
      });
      assert.equal(res.status, 202, await res.text());
    }
    const jobs = await poll("24 finished jobs", async () => {
      const list = await getJson<JobJson[]>(`${base}/api/v1/jobs?limit=24&status=completed`);
      return list.length === 24 ? list : undefined;
    }, 120_000);
    await runPageWeight(base, profile, jobs);
  },
);

async function runPageWeight(base: string, profile: string, jobs: JobJson[]): Promise<void> {
  const context = await launchChromium({ profile: profile, viewport: DESKTOP });
  /** Body bytes of every image answer, by path. */
  const images = new Map<string, number>();
  const reading: Promise<void>[] = [];
  const encodings = new Map<string, string>();
  context.on("response", (res) => {
    const path = new URL(res.url()).pathname;
    if (path === "/" || /\.(js|css)$/.test(path)) {
      encodings.set(path, res.headers()["content-encoding"] ?? "none");
    }
    if (res.request().resourceType() !== "image" || !path.startsWith("/images/")) return;
    reading.push(res.body().then((b) => void images.set(path, b.byteLength), () => {}));
  });
  try {
    const page = context.pages()[0] ?? await context.newPage();
    await page.goto(`${base}/?tab=history`, { waitUntil: "load" });
    const tiles = page.locator("#panel-history .tile img");
    const expected = jobs.reduce((n, job) => n + job.images.length, 0);
    await poll("every tile", async () => (await tiles.count()) === expected ? true : undefined);
    // Scroll to the end so the lazy tiles load too: the whole page, not only the first screen.
    for (let y = 0; y < 20; y++) {
      await page.mouse.wheel(0, 600);
      await page.waitForTimeout(50);
    }
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll<HTMLImageElement>("#panel-history .tile img")]
          .every((img) => img.complete && img.naturalWidth > 0),
      undefined,
      { timeout: UI_WAIT },
    );
    await page.waitForLoadState("networkidle");
    await Promise.all(reading);

    const shown = await tiles.evaluateAll((els) =>
      els.map((el) => new URL((el as HTMLImageElement).currentSrc).pathname)
    );
    const thumbnails = new Set(jobs.flatMap((j) => j.images.map((i) => i.thumbnail_url)));
    assert.deepEqual(shown.filter((p) => !thumbnails.has(p)), [], "every tile is a thumbnail");
    const total = [...images.values()].reduce((a, b) => a + b, 0);
    const full = jobs.flatMap((j) => j.images).reduce((a, i) => a + i.bytes, 0);
    console.log(
      `History at 1440×900: ${images.size} images, ${(total / 1024).toFixed(0)} KB ` +
        `(the full images: ${(full / 1024 / 1024).toFixed(1)} MB)`,
    );
    assert.equal(images.size, expected, [...images.keys()].join(", "));
    assert.ok(total <= HISTORY_IMAGE_BUDGET, `History loaded ${total} bytes of images`);
    // The page, its scripts and styles came compressed (Chromium accepts br), all but the
    // files under 1 KB.
    assert.equal(encodings.get("/"), "br");
    const manifest = JSON.parse(
      await Deno.readTextFile(new URL("./dist/manifest.json", import.meta.url)),
    ) as { files: Record<string, { bytes: number }> };
    assert.ok(encodings.size > 3);
    for (const [path, encoding] of encodings) {
      const bytes = manifest.files[path.slice(1)]?.bytes;
      if (bytes !== undefined && bytes >= 1024) assert.equal(encoding, "br", path);
    }

    // The lightbox: the full image, and a strip of the job's thumbnails to move between them.
    const pair = jobs.find((j) => j.images.length === 2)!;
    const card = page.locator("#panel-history .tile").filter({
      has: page.locator(".tile-prompt", { hasText: pair.prompt }),
    });
    await card.getByRole("button", { name: "Open image 1 of 2" }).click();
    const dialog = page.getByRole("dialog");
    const main = dialog.locator("img.lb-img");
    await main.waitFor({ state: "visible", timeout: UI_WAIT });
    assert.equal(await main.getAttribute("src"), pair.images[0].url);
    const strip = dialog.getByRole("group", { name: "Images of this job" });
    const stripImages = await strip.locator("img").evaluateAll((els) =>
      els.map((el) => el.getAttribute("src"))
    );
    assert.deepEqual(stripImages, pair.images.map((i) => i.thumbnail_url));
    await strip.getByRole("button", { name: "Show image 2 of 2" }).click();
    await dialog.locator(`img.lb-img[src="${pair.images[1].url}"]`).waitFor({ timeout: UI_WAIT });
    assert.equal(
      await strip.getByRole("button", { name: "Show image 2 of 2" }).getAttribute("aria-current"),
      "true",
    );
    await screenshot(page, "lightbox-strip", DESKTOP);
  } finally {
    await context.close();
  }
}
