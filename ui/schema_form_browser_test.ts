/**
 * The Generate form built from the model's schema, in a real browser against the real api and
 * worker (and the fake Replicate for a Replicate model): the picker, the controls of a local and
 * of a Replicate model, values carried from one to the other (and the notice of those dropped),
 * an image given by drop reaching a local job, and errors shown next to their field (a client
 * check and a 422 from the API). Screenshots of the form in dark and light themes are saved under
 * test-output/screenshots/.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import type { JobJson } from "../shared/jobs/json.ts";
import {
  launchChromium,
  poll,
  screenshot as save,
  UI_WAIT as WAIT,
  uiTest,
} from "../shared/testing/browser.ts";
import { startFakeReplicate } from "../shared/testing/fake_replicate.ts";
import { pngBytes } from "../shared/testing/image_fixtures.ts";
import { startService, waitForHttp } from "../shared/testing/processes.ts";

const LOCAL = "local/aurora";
/** Any owner/name: the fake Replicate serves its Cog-style schema (fake_replicate_models.ts). */
const REPLICATE = "acme/painter";
const DESKTOP = { width: 1440, height: 900 };
const PHONE = { width: 390, height: 844 };

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  assert.equal(res.status, 200, `GET ${url}`);
  return await res.json() as T;
}

/** The ids of the form's fields, top to bottom (each field's label is `<control id>-label`). */
function fieldOrder(page: Page): Promise<string[]> {
  return page.locator(".schema-fields > .sf").evaluateAll((fields) =>
    fields.map((f) => f.querySelector(".label[id]")?.id.replace(/-label$/, "") ?? "?")
  );
}

/** A full-page screenshot from the top (the sticky header stays where it belongs). */
async function screenshot(page: Page, name: string, size: { width: number; height: number }) {
  await page.evaluate(() => scrollTo(0, 0));
  await save(page, name, size);
}

/** Drops a PNG file on an image field's drop zone, as a file dragged from the desktop would. */
async function dropPng(page: Page, field: string, bytes: Uint8Array): Promise<void> {
  const transfer = await page.evaluateHandle((data) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(data)], "start.png", { type: "image/png" }));
    return dt;
  }, [...bytes]);
  const zone = `.dropzone[data-field="${field}"]`;
  await page.dispatchEvent(zone, "dragover", { dataTransfer: transfer });
  await page.dispatchEvent(zone, "drop", { dataTransfer: transfer });
}

uiTest(
  "ui: the Generate form follows the model's schema; a dropped image reaches a local job; errors sit by their field",
  "ui schema form browser test",
  { LOCAL_STEP_MS: "20" },
  async ({ env, base, profile, services }) => {
    const fake = await startFakeReplicate({
      latencyMs: 200,
      modelNotFound: ["acme/nothing-here"],
    });
    try {
      env.REPLICATE_API_TOKEN = fake.token;
      env.REPLICATE_BASE_URL = fake.url;
      const api = await startService("api", env);
      services.push(api);
      services.push(await startService("worker", env));
      await waitForHttp(`${base}/api/v1/health`, 120_000, api);
      await runSchemaForm(base, profile);
    } finally {
      await fake.close();
    }
  },
);

async function runSchemaForm(base: string, profile: string): Promise<void> {
  const origin = new URL(base);
  const context = await launchChromium({ profile, viewport: DESKTOP });
  const requests: string[] = [];
  const problems: string[] = [];
  try {
    context.on("request", (req) => void requests.push(req.url()));
    const page = context.pages()[0] ?? await context.newPage();
    page.on("console", (msg) => {
      // The refusals this test provokes (an unknown model, a gone upload) are logged by Chromium.
      if (msg.type() === "error" && !/status of (404|422)\b/.test(msg.text())) {
        problems.push(`console: ${msg.text()}`);
      }
    });
    page.on("pageerror", (err) => void problems.push(`pageerror: ${err.message}`));
    await page.goto(`${base}/`, { waitUntil: "load" });
    const picker = page.locator("#f-model:not([disabled])");
    await picker.waitFor({ timeout: WAIT });

    // 1. The picker: the listed models, grouped; filtered as one types; Enter picks.
    const listed = await getJson<{ models: { id: string; source: string }[] }>(
      `${base}/api/v1/models`,
    );
    assert.ok(listed.models.some((m) => m.source === "curated"), "a token shows the curated list");
    await picker.click();
    const list = page.getByRole("listbox", { name: "Models" });
    await list.waitFor({ state: "visible", timeout: WAIT });
    assert.equal(await picker.getAttribute("aria-expanded"), "true");
    const options = list.getByRole("option");
    assert.equal(await options.count(), listed.models.length);
    assert.deepEqual(await list.locator(".opt-group").allTextContents(), [
      "Local (offline)",
      "Suggested",
      // Replicate is configured here, so the built-in aliases (model routes) are offered too.
      "Aliases (with failover)",
    ]);
    await page.keyboard.type("aurora");
    assert.equal(await options.count(), 1);
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("Enter");
    await list.waitFor({ state: "hidden", timeout: WAIT });
    assert.equal(await picker.inputValue(), LOCAL);
    // A typed owner/name is looked up; an unknown one says so and cannot be picked.
    await picker.click();
    await picker.fill("acme/nothing-here");
    const unknown = list.locator('[role="option"][data-value="acme/nothing-here"]');
    await unknown.getByText("No model acme/nothing-here: check the owner and the name")
      .waitFor({ timeout: WAIT });
    assert.equal(await unknown.getAttribute("aria-disabled"), "true");
    await picker.press("Escape");
    await list.waitFor({ state: "hidden", timeout: WAIT });
    assert.equal(await picker.inputValue(), LOCAL, "Esc keeps the model");
    const localForm = page.locator(`.schema-fields[data-model="${LOCAL}"]`);
    await localForm.waitFor({ timeout: WAIT });

    // 2. The local model's controls follow its schema, in its order, defaults shown.
    assert.deepEqual(await fieldOrder(page), [
      "f-in-image",
      "f-size",
      "f-in-num_outputs",
      "f-in-num_inference_steps",
      "f-seed",
    ]);
    assert.equal(await page.locator("#f-in-image").getAttribute("role"), "button");
    assert.ok(await page.locator("#f-aspect-1-1").isChecked(), "1024 × 1024 by default");
    assert.equal(await page.locator("#f-in-width").inputValue(), "1024");
    assert.equal(await page.locator("#f-in-num_outputs [type=radio]").count(), 4);
    assert.ok(await page.locator("#f-in-num_outputs-0").isChecked());
    const steps = page.locator("#f-in-num_inference_steps");
    assert.equal(await steps.inputValue(), "20");
    // The local models run at most LOCAL_MAX_STEPS (100) steps, and their schema says so.
    assert.equal(await steps.getAttribute("max"), "100");
    const stepsSlider = page.locator(".sf:has(#f-in-num_inference_steps) input[type=range]");
    assert.equal(await stepsSlider.inputValue(), "20");
    await page.getByText("Optional starting image: its colours and layout seed").waitFor();
    await page.getByRole("button", { name: "Negative prompt" }).waitFor();
    await screenshot(page, "form-local", DESKTOP);

    // Steps 80 and 2 images, then the Replicate model (typed in, looked up): 2 images carry
    // over, steps 80 is over its maximum of 50 and is dropped, and the page says so.
    await steps.fill("80");
    assert.equal(await stepsSlider.inputValue(), "80", "the slider follows the box");
    await page.locator("#f-in-num_outputs-1").check();
    await picker.click();
    await picker.fill(REPLICATE);
    const typed = list.locator(`[role="option"][data-value="${REPLICATE}"]`);
    await typed.getByText(`Fake model ${REPLICATE}`).waitFor({ timeout: WAIT });
    await picker.press("Enter");
    const replicateForm = page.locator(`.schema-fields[data-model="${REPLICATE}"]`);
    await replicateForm.waitFor({ timeout: WAIT });
    assert.deepEqual(await fieldOrder(page), [
      "f-in-image",
      "f-in-aspect_ratio",
      "f-in-num_outputs",
      "f-in-num_inference_steps",
      "f-seed",
      "f-in-output_format",
      "f-in-width",
      "f-in-height",
      "f-in-disable_safety_checker",
    ]);
    assert.equal(await page.locator("#f-in-aspect_ratio [type=radio]").count(), 11);
    assert.ok(await page.locator('#f-in-aspect_ratio [value="1:1"]').isChecked());
    assert.deepEqual(
      await page.locator("#f-in-output_format [type=radio]").evaluateAll((rs) =>
        rs.map((r) => [(r as HTMLInputElement).value, (r as HTMLInputElement).checked])
      ),
      [["webp", true], ["jpg", false], ["png", false]],
    );
    const safety = page.getByRole("switch", { name: "Disable safety checker" });
    assert.equal(await safety.isChecked(), false);
    await safety.focus();
    await page.keyboard.press("Space");
    assert.equal(await safety.isChecked(), true, "Space toggles the switch");
    assert.equal(await page.locator("#f-in-width").inputValue(), "", "no default: empty");
    assert.equal(await page.locator("#f-in-num_inference_steps").getAttribute("max"), "50");
    assert.equal(await page.locator("#f-in-num_inference_steps").inputValue(), "4");
    assert.ok(await page.locator("#f-in-num_outputs-1").isChecked(), "2 images carried over");
    assert.equal(await page.locator("#f-aspect-16-9").count(), 0, "no size chips here");
    assert.equal(
      await page.getByRole("button", { name: "Negative prompt" }).count(),
      0,
      "this model takes no negative prompt",
    );
    const notice = page.locator(".notice.dropped");
    await notice.waitFor({ timeout: WAIT });
    assert.match(await notice.innerText(), /painter does not take this value.*left out: Steps 80/s);
    // An image pasted into the drop zone is uploaded and previewed too.
    const pasted = page.waitForResponse(
      (r) => r.url() === `${base}/api/v1/uploads` && r.request().method() === "POST",
      { timeout: WAIT },
    );
    await page.locator('.dropzone[data-field="image"]').evaluate((zone, data) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(data)], "pasted.png", { type: "image/png" }));
      zone.dispatchEvent(new ClipboardEvent("paste", { clipboardData: dt, bubbles: true }));
    }, [...pngBytes(20, 20)]);
    assert.equal((await pasted).status(), 201);
    await page.locator(".sf:has(#f-in-image-label) .img-in:not(.uploading) img").waitFor({
      timeout: WAIT,
    });
    await page.emulateMedia({ colorScheme: "light" });
    await screenshot(page, "form-replicate-light", DESKTOP);
    await page.emulateMedia({ colorScheme: "dark" });
    await screenshot(page, "form-replicate-dark", DESKTOP);

    // Undo: back to the local model with the values as they were.
    await notice.getByRole("button", { name: "Undo" }).click();
    await localForm.waitFor({ timeout: WAIT });
    assert.equal(await picker.inputValue(), LOCAL);
    assert.equal(await page.locator("#f-in-num_inference_steps").inputValue(), "80");
    assert.ok(await page.locator("#f-in-num_outputs-1").isChecked());
    assert.equal(await notice.count(), 0);

    // 3. A value out of range is caught before sending, shown next to its field and focused.
    await page.locator("#f-prompt").fill("a harbour at dawn, from the starting image");
    await page.locator("#f-in-width").fill("5000");
    await page.getByRole("button", { name: /^Generate/ }).click();
    const widthError = page.locator("#err-parameters-width");
    await widthError.waitFor({ timeout: WAIT });
    assert.match(await widthError.innerText(), /Must be from 64 to 2048/);
    assert.equal(await page.locator("#f-in-width").getAttribute("aria-invalid"), "true");
    await page.waitForFunction(() => document.activeElement?.id === "f-in-width");
    await page.locator("#f-aspect-3-2").check();
    await widthError.waitFor({ state: "detached", timeout: WAIT });

    // 4. An image by drop: uploaded at once, previewed, then removed after the upload is gone
    // (a 422 naming the field, shown next to it), and dropped again: it reaches the local job.
    const png = pngBytes(48, 32, [250, 120, 20], [20, 40, 200]);
    const uploaded = page.waitForResponse(
      (r) => r.url() === `${base}/api/v1/uploads` && r.request().method() === "POST",
      { timeout: WAIT },
    );
    await dropPng(page, "image", png);
    const first = await uploaded;
    assert.equal(first.status(), 201);
    const upload = await first.json() as { id: string; url: string };
    const chosen = page.locator(".sf:has(#f-in-image-label) .img-in:not(.uploading)");
    await chosen.locator("img").waitFor({ timeout: WAIT });
    assert.match(await chosen.innerText(), /48×32/);
    assert.equal(await page.locator('.dropzone[data-field="image"]').count(), 0);
    // The upload disappears (as an expired one would) before the submit.
    const gone = await fetch(`${base}/api/v1/uploads/${upload.id}`, { method: "DELETE" });
    assert.equal(gone.status, 204);
    const refused = page.waitForResponse(
      (r) => r.url() === `${base}/api/v1/generate` && r.request().method() === "POST",
      { timeout: WAIT },
    );
    await page.keyboard.press("Control+Enter");
    assert.equal((await refused).status(), 422);
    const imageError = page.locator("#err-parameters-image");
    await imageError.waitFor({ timeout: WAIT });
    assert.match(await imageError.innerText(), /was not found/);
    await page.locator(".form-error").getByText(/Not queued/).waitFor({ timeout: WAIT });
    await screenshot(page, "form-field-error", DESKTOP);
    await chosen.getByRole("button", { name: "Remove this image from Image" }).click();
    await page.locator('.dropzone[data-field="image"]').waitFor({ timeout: WAIT });
    const again = page.waitForResponse(
      (r) => r.url() === `${base}/api/v1/uploads` && r.request().method() === "POST",
      { timeout: WAIT },
    );
    await dropPng(page, "image", png);
    const second = await (await again).json() as { id: string; url: string };
    await chosen.locator("img").waitFor({ timeout: WAIT });
    const submitted = page.waitForResponse(
      (r) => r.url() === `${base}/api/v1/generate` && r.request().method() === "POST",
      { timeout: WAIT },
    );
    await page.getByRole("button", { name: /^Generate/ }).click();
    const accepted = await submitted;
    assert.equal(accepted.status(), 202, await accepted.text());
    const body = JSON.parse(accepted.request().postData() ?? "{}");
    assert.equal(body.model, LOCAL);
    assert.deepEqual(
      { ...body.parameters, seed: 0 },
      {
        image: second.url,
        width: 1216,
        height: 832,
        num_outputs: 2,
        num_inference_steps: 80,
        seed: 0,
      },
    );
    const jobId = (await accepted.json() as { job_id: string }).job_id;
    const job = await poll("the job done", async () => {
      const j = await getJson<JobJson>(`${base}/api/v1/status/${jobId}`);
      return j.status === "completed" || j.status === "failed" ? j : undefined;
    });
    assert.equal(job.status, "completed", job.error_message ?? "");
    assert.equal(job.images.length, 2);
    assert.deepEqual(job.input_images, [
      { field: "image", upload_id: second.id, url: `/uploads/${second.id}` },
    ]);
    assert.equal(await page.locator("#err-parameters-image").count(), 0, "the error is cleared");

    // "Reuse settings" from the lightbox, after moving to the Replicate model: the local model
    // and every value of the job come back, the image too (its preview read with the key).
    await picker.click();
    await picker.fill(REPLICATE);
    await picker.press("Enter");
    await replicateForm.waitFor({ timeout: WAIT });
    const card = page.locator("#panel-generate article.card").first();
    await card.getByRole("button", { name: "Open image 1 of 2" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("button", { name: "Reuse settings" }).click();
    await dialog.waitFor({ state: "detached", timeout: WAIT });
    await localForm.waitFor({ timeout: WAIT });
    assert.equal(await notice.count(), 0, "no notice about another model's values");
    assert.equal(await picker.inputValue(), LOCAL);
    assert.ok(await page.locator("#f-aspect-3-2").isChecked());
    assert.equal(await page.locator("#f-in-num_inference_steps").inputValue(), "80");
    assert.ok(await page.locator("#f-in-num_outputs-1").isChecked());
    assert.equal(await page.locator("#f-seed").inputValue(), String(job.parameters.seed));
    await chosen.locator("img").waitFor({ timeout: WAIT });

    // 5. On a phone, the form in both themes.
    await page.setViewportSize(PHONE);
    await screenshot(page, "form-local-dark", PHONE);
    await page.emulateMedia({ colorScheme: "light" });
    await screenshot(page, "form-local-light", PHONE);

    // Previews of a file just dropped are read from the file itself (blob: URLs).
    const outside = requests.filter((u) =>
      !u.startsWith("blob:") && new URL(u).host !== origin.host
    );
    assert.deepEqual(outside, [], "requests to other hosts");
    assert.deepEqual(problems, [], "console errors");
  } finally {
    await context.close();
  }
}
