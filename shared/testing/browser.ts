/**
 * Test helpers: Debian's Chromium driven by playwright-core, with flags that keep it offline, and
 * a browser test's stack (its own database, storage and services).
 */
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { deleteQueueKeys } from "./db.ts";
import { createTestDatabase, runTask, serviceEnv, type ServiceProcess } from "./processes.ts";

/** Where `.ci/run` installs Chromium (apt-get install chromium). */
export const CHROMIUM = "/usr/bin/chromium";

/** Headless, sandbox-free (root), and no background calls to Google's hosts. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Launches Chromium with a profile folder (a fresh temp one unless given). */
export async function launchChromium(
  options: { profile?: string; viewport?: { width: number; height: number } } = {},
): Promise<BrowserContext> {
  const profile = options.profile ??
    await Deno.makeTempDir({ prefix: "darkroom-chromium-" });
  return await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    ...(options.viewport ? { viewport: options.viewport } : {}),
  });
}

/** What a page did: every request URL, and every 4xx/5xx answer, console error or page error. */
export interface PageRecord {
  requests: string[];
  problems: string[];
}

/** Opens a page in `context` that records its requests and problems. */
export async function recordedPage(
  context: BrowserContext,
): Promise<{ page: Page; record: PageRecord }> {
  const record: PageRecord = { requests: [], problems: [] };
  context.on("request", (req) => void record.requests.push(req.url()));
  context.on("response", (r) => {
    if (r.status() >= 400) record.problems.push(`${r.status()} ${r.url()}`);
  });
  const page = context.pages()[0] ?? await context.newPage();
  page.on("console", (msg) => {
    if (msg.type() === "error") record.problems.push(`console: ${msg.text()}`);
  });
  page.on("pageerror", (err) => void record.problems.push(`pageerror: ${err.message}`));
  return { page, record };
}

/** Generous: browser tests run on a 2-core machine next to Postgres, Redis and the services. */
export const UI_WAIT = 30_000;

/** Polls `fn` until it returns a value (not undefined) or throws after `timeoutMs`. */
export async function poll<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = UI_WAIT,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} not reached within ${timeoutMs} ms${last ? `: ${last}` : ""}`);
}

/** What a browser test runs against. */
export interface UiStack {
  /** The services' environment (add to it before starting them). */
  env: Record<string, string>;
  base: string;
  /** A fresh Chromium profile folder. */
  profile: string;
  /** Started services: stopped afterwards, their output printed when the test fails. */
  services: ServiceProcess[];
}

/**
 * A browser test on a migrated database of its own, temp storage and a Chromium profile; `run`
 * starts the services it needs. Everything is removed afterwards, and the time is printed.
 */
export function uiTest(
  name: string,
  label: string,
  extra: Record<string, string>,
  run: (stack: UiStack) => Promise<void>,
): void {
  Deno.test({
    name,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const started = Date.now();
      const database = await createTestDatabase();
      const storage = await Deno.makeTempDir({ prefix: "darkroom-ui-storage-" });
      const profile = await Deno.makeTempDir({ prefix: "darkroom-ui-chromium-" });
      const env = serviceEnv({ databaseUrl: database.url, storagePath: storage, extra });
      const base = `http://127.0.0.1:${env.PORT}`;
      const services: ServiceProcess[] = [];
      try {
        const migrated = await runTask(["migrate"], env);
        if (migrated.code !== 0) throw new Error(`migrate failed:\n${migrated.output}`);
        await run({ env, base, profile, services });
      } catch (err) {
        for (const s of services) {
          console.error(`--- ${s.role} output ---\n${s.output().slice(-4000)}`);
        }
        throw err;
      } finally {
        for (const s of services.reverse()) await s.stop();
        await deleteQueueKeys(env.QUEUE_PREFIX);
        await database.drop();
        await Deno.remove(storage, { recursive: true }).catch(() => {});
        await Deno.remove(profile, { recursive: true }).catch(() => {});
        console.log(`${label}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
      }
    },
  });
}

/** Where browser tests save their screenshots. */
export const SCREENSHOTS = new URL("../../test-output/screenshots/", import.meta.url);

/** Saves a full-page screenshot as `<name>-<width>x<height>.png` under test-output/screenshots. */
export async function screenshot(
  page: Page,
  name: string,
  size: { width: number; height: number },
): Promise<string> {
  await Deno.mkdir(SCREENSHOTS, { recursive: true });
  const path = new URL(`${name}-${size.width}x${size.height}.png`, SCREENSHOTS).pathname;
  await page.screenshot({ path, fullPage: true, animations: "disabled" });
  return path;
}

/**
 * Picks a model in the Generate form's picker (types it, then clicks its option) and waits until
 * the form built from its schema is shown.
 */
export async function pickModel(page: Page, id: string): Promise<void> {
  const picker = page.locator("#f-model:not([disabled])");
  await picker.click({ timeout: UI_WAIT });
  await picker.fill(id);
  await page.locator(`#f-model-list [role="option"][data-value="${id}"]`).click({
    timeout: UI_WAIT,
  });
  await page.locator(`.schema-fields[data-model="${id}"]`).waitFor({ timeout: UI_WAIT });
}
