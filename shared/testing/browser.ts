/** Test helper: Debian's Chromium driven by playwright-core, with flags that keep it offline. */
import { type BrowserContext, chromium, type Page } from "playwright-core";

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
