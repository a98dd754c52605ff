/** Test helper: Debian's Chromium driven by playwright-core, with flags that keep it offline. */
import { type BrowserContext, chromium } from "playwright-core";

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
