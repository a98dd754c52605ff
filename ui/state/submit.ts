/**
 * Submitting the Generate form: the draft checked against the model's form, the job inserted at
 * once and sent; refusals shown next to their fields (the first one focused) or in the form's
 * error area. Loaded with the model settings, after the first paint.
 */
import { ApiError } from "../api_client.ts";
import {
  connectionError,
  draft,
  type ErrorKey,
  type FieldErrors,
  fieldErrors,
  rateLimit,
  rateLimitFrom,
  updateDraft,
} from "./form.ts";
import { jobsStore } from "./jobs.ts";
import { api, receiveJob } from "./live.ts";
import { modelForm, settledForm } from "./models.ts";
import { buildRequest, errorsFromDetails } from "./request.ts";
import { inputDomId, inputNames, leafFields } from "./schema_form.ts";
import { announce, showToast } from "./toasts.ts";
import { uploadsBusy } from "./uploads.ts";

/** Fields inside "Advanced settings" (opened when one of them has an error). */
export const ADVANCED: readonly ErrorKey[] = ["extraJson", "priority"];

const FIELD_IDS: Partial<Record<ErrorKey, string>> = {
  prompt: "f-prompt",
  negativePrompt: "f-negative",
  model: "f-model",
  extraJson: "f-extra",
  priority: "f-priority",
  "parameters.seed": "f-seed",
};

/** The fields that can carry an error, in the order of the form, top to bottom. */
export function errorOrder(inputs: string[]): ErrorKey[] {
  const keys = inputs.map((name) => `parameters.${name}` as const);
  return ["prompt", "negativePrompt", "model", ...keys, "extraJson", "priority"];
}

/** Focuses the control of a field (the first focusable one of a group). */
function focusField(key: ErrorKey): void {
  const id = FIELD_IDS[key] ??
    (key.startsWith("parameters.") ? inputDomId(key.slice("parameters.".length)) : "");
  const el = document.getElementById(id) ??
    document.getElementById(`${id}-label`)?.closest(".field") ?? null;
  const focusable = "input:not([tabindex='-1']),select,textarea,[tabindex='0']";
  const target = el?.matches(focusable) ? el : el?.querySelector<HTMLElement>(focusable);
  (target as HTMLElement | null | undefined)?.focus();
}

/** What the form does around a submit. */
export interface SubmitHooks {
  /** Opens the negative prompt box (its field has an error). */
  openNegative(): void;
  /** The job was queued. */
  onQueued(): void;
}

/** Shows errors next to their fields, opens what hides the first one and focuses it. */
function showErrors(errors: FieldErrors, hooks: SubmitHooks): void {
  fieldErrors.value = errors;
  const names = leafFields(modelForm.value?.fields ?? []).map((f) => f.name);
  const first = errorOrder(names).find((f) => errors[f]);
  if (first === "negativePrompt") hooks.openNegative();
  if (first && ADVANCED.includes(first)) updateDraft({ advancedOpen: true });
  queueMicrotask(() => first && focusField(first));
}

/** Submits the page draft (never blocking the form: the job is queued in the background). */
export async function submitDraft(hooks: SubmitHooks): Promise<void> {
  if (uploadsBusy.value) {
    fieldErrors.value = { form: "An image is still uploading: submit again once it is in." };
    return;
  }
  // The model's form, once its card is in (at once when cached); null without a schema.
  const form = await settledForm();
  const result = buildRequest(draft.value, form);
  if (!result.ok) {
    showErrors(result.errors, hooks);
    announce("Please correct the highlighted fields");
    return;
  }
  fieldErrors.value = {};
  connectionError.value = false;
  if (!draft.value.seedLocked && result.seed !== null) updateDraft({ seed: result.seed });
  const localId = jobsStore.addOptimistic(result.body);
  announce("Job submitted");
  try {
    const r = await api.generate(result.body);
    hooks.onQueued();
    rateLimit.value = null;
    jobsStore.confirmOptimistic(localId, r.job_id);
    api.getJob(r.job_id).then(receiveJob).catch(() => {/* the live feed will bring it */});
  } catch (err) {
    jobsStore.remove(localId);
    const e = err instanceof ApiError ? err : null;
    const message = e?.message ?? String(err);
    // The draft stays as it is in every case: nothing typed is lost.
    if (e?.status === 429) {
      rateLimit.value = rateLimitFrom(e);
      return;
    }
    if (e?.status === 401) {
      // The key prompt opens; submit again once a key is in.
      fieldErrors.value = { form: "Not queued: this Darkroom needs a valid API key." };
      return;
    }
    if (e?.details.length) {
      const errors = errorsFromDetails(e.details, message, inputNames(form?.fields ?? []));
      errors.form = errors.form
        ? `Not queued: ${errors.form}`
        : `Not queued: ${message}. See the highlighted fields.`;
      showErrors(errors, hooks);
    } else {
      fieldErrors.value = { form: e?.status === 0 ? message : `Not queued: ${message}` };
      // Unreachable or unavailable: cleared when the server is back (live.ts).
      connectionError.value = e?.status === 0 || e?.status === 503;
    }
    showToast({ kind: "error", title: "Not queued", body: message });
  }
}
