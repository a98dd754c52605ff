/** The Generate form: prompt first, settings one click away; submitting never blocks it. */
import { useSignal } from "@preact/signals";
import { useEffect, useRef } from "preact/hooks";
import type { PriorityName } from "../../shared/queue/queue.ts";
import type { ModelInfo } from "../../shared/providers/registry.ts";
import { ApiError, PRIORITIES } from "../api_client.ts";
import { Icon } from "../components/Icon.tsx";
import {
  ASPECT_KEYS,
  ASPECTS,
  buildRequest,
  draft,
  errorsFromDetails,
  fieldErrors,
  type FieldName,
  focusPromptRequest,
  PROMPT_MAX,
  randomSeed,
  rateLimit,
  rateLimitFrom,
  secondsLeft,
  startDraftPersistence,
  updateDraft,
} from "../state/form.ts";
import { advancedSummary } from "../state/form_summary.ts";
import { jobsStore } from "../state/jobs.ts";
import { api, loadModels, models, modelsError, receiveJob } from "../state/live.ts";
import { announce, showToast } from "../state/toasts.ts";
import { urlState } from "../state/url.ts";

export interface GenerateFormProps {
  /** Placeholder of the prompt box. */
  placeholder?: string;
}

const CUSTOM = "__custom__";
const FIELD_ORDER: FieldName[] = [
  "prompt",
  "negativePrompt",
  "model",
  "aspect",
  "numOutputs",
  "seed",
  "steps",
  "guidance",
  "extraJson",
  "priority",
];
const FIELD_IDS: Partial<Record<FieldName, string>> = {
  prompt: "f-prompt",
  negativePrompt: "f-negative",
  model: "f-model",
  aspect: "f-aspect-1-1",
  numOutputs: "f-n-1",
  seed: "f-seed",
  steps: "f-steps",
  guidance: "f-guidance",
  extraJson: "f-extra",
  priority: "f-priority",
};

const PRIORITY_LABELS: Record<PriorityName, string> = {
  normal: "Normal",
  high: "High",
  low: "Low",
};
/** Fields inside "Advanced settings" (opened when one of them has an error). */
const ADVANCED: FieldName[] = ["steps", "guidance", "extraJson", "priority"];

const isMac = typeof navigator !== "undefined" && /Mac|iPhone|iPad/.test(navigator.platform);

function FieldError({ name }: { name: FieldName }) {
  const msg = fieldErrors.value[name];
  return msg
    ? (
      <p class="field-error" id={`err-${name}`}>
        <Icon name="alert" size={14} /> {msg}
      </p>
    )
    : null;
}

/** aria attributes tying an input to its error message. */
function invalid(name: FieldName, describedBy?: string) {
  const has = !!fieldErrors.value[name];
  const ids = [describedBy, has ? `err-${name}` : ""].filter(Boolean).join(" ");
  return { "aria-invalid": has || undefined, "aria-describedby": ids || undefined };
}

function clearError(name: FieldName) {
  if (!fieldErrors.value[name] && !fieldErrors.value.form) return;
  const next = { ...fieldErrors.value };
  delete next[name];
  delete next.form;
  fieldErrors.value = next;
}

/** An optional number setting of the advanced section ("Model default" when left empty). */
function NumberField(
  props: {
    name: "steps" | "guidance";
    label: string;
    min: number;
    max: number;
    step: number;
    value: string;
  },
) {
  const id = `f-${props.name}`;
  return (
    <div class="field grow">
      <label for={id} class="label">{props.label}</label>
      <input
        id={id}
        type="number"
        min={props.min}
        max={props.max}
        step={props.step}
        placeholder="Model default"
        value={props.value}
        onInput={(e) => {
          updateDraft({ [props.name]: e.currentTarget.value });
          clearError(props.name);
        }}
        {...invalid(props.name)}
      />
      <FieldError name={props.name} />
    </div>
  );
}

/** A small rectangle showing the ratio inside an aspect chip. */
function RatioShape({ w, h }: { w: number; h: number }) {
  const s = 14 / Math.max(w, h);
  const rw = w * s;
  const rh = h * s;
  return (
    <svg class="ratio" width="18" height="18" viewBox="0 0 18 18" aria-hidden="true">
      <rect x={(18 - rw) / 2} y={(18 - rh) / 2} width={rw} height={rh} rx="1.5" />
    </svg>
  );
}

/** The last 429: the server's message and a countdown to when submitting works again. */
function RateLimitNotice() {
  const r = rateLimit.value;
  const tick = useSignal(0);
  useEffect(() => {
    if (r?.until == null) return;
    const until = r.until;
    const timer = setInterval(() => {
      tick.value++;
      if (Date.now() >= until) rateLimit.value = null;
    }, 1000);
    return () => clearInterval(timer);
  }, [r]);
  if (!r) return null;
  void tick.value; // re-render every second
  const left = r.until === null ? null : secondsLeft(r.until);
  return (
    <p class="form-error" id="rate-limit">
      <Icon name="alert" size={16} />
      <span>
        <span role="alert">Not queued: {r.message}.</span>
        {left !== null && (
          <>
            {" "}You can submit again in <strong class="countdown">{left} s</strong>.
          </>
        )} Your prompt is kept.
      </span>
    </p>
  );
}

/** The model picker's groups. */
const GROUP_LABELS: Record<string, string> = {
  local: "Local (offline)",
  route: "Aliases (failover between providers)",
  replicate: "Replicate",
  fal: "fal.ai",
};

/** `replicate → fal`: the configured providers behind an alias, in the order they are tried. */
function routeProviders(model: ModelInfo): string {
  return (model.targets ?? []).filter((t) => t.configured).map((t) => t.provider).join(" → ");
}

/** `owner/name (replicate), then fal:… (fal)`, unconfigured ones marked. */
function routeTargets(model: ModelInfo): string {
  return (model.targets ?? []).map((t) =>
    `${t.model} (${t.provider}${t.configured ? "" : ", not configured"})`
  ).join(", then ");
}

export default function GenerateForm({ placeholder }: GenerateFormProps) {
  const promptRef = useRef<HTMLTextAreaElement>(null);
  const negOpen = useSignal(false);
  const sent = useSignal(0);
  const d = draft.value;
  const m = models.value;

  useEffect(() => {
    startDraftPersistence();
    if (draft.value.negativePrompt) negOpen.value = true;
    if (!models.value) void loadModels();
    // Autofocus once mounted, unless the user is already somewhere else on the page.
    if (urlState.value.tab === "generate" && document.activeElement === document.body) {
      promptRef.current?.focus();
    }
  }, []);

  useEffect(() => {
    if (!focusPromptRequest.value) return;
    if (draft.value.negativePrompt) negOpen.value = true;
    const el = promptRef.current;
    el?.focus();
    el?.setSelectionRange(el.value.length, el.value.length);
  }, [focusPromptRequest.value]);

  // Once models are known, make sure the draft names one that can run here.
  useEffect(() => {
    if (!m) return;
    const known = m.models.some((x) => x.id === draft.value.model);
    const custom = m.custom_models && draft.value.model !== "";
    if (!known && !custom && m.default_model) updateDraft({ model: m.default_model });
  }, [m]);

  const submit = () => {
    const result = buildRequest(draft.value);
    if (!result.ok) {
      fieldErrors.value = result.errors;
      const first = FIELD_ORDER.find((f) => result.errors[f]);
      if (first === "negativePrompt") negOpen.value = true;
      if (first && ADVANCED.includes(first)) updateDraft({ advancedOpen: true });
      queueMicrotask(() => first && document.getElementById(FIELD_IDS[first]!)?.focus());
      announce("Please correct the highlighted fields");
      return;
    }
    fieldErrors.value = {};
    if (!draft.value.seedLocked) updateDraft({ seed: result.seed });
    const localId = jobsStore.addOptimistic(result.body);
    announce("Job submitted");
    api.generate(result.body).then((r) => {
      sent.value++;
      rateLimit.value = null;
      jobsStore.confirmOptimistic(localId, r.job_id);
      api.getJob(r.job_id).then(receiveJob).catch(() => {/* the live feed will bring it */});
    }).catch((err: unknown) => {
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
        const errors = errorsFromDetails(e.details, message);
        errors.form = errors.form
          ? `Not queued: ${errors.form}`
          : `Not queued: ${message}. See the highlighted fields.`;
        if (ADVANCED.some((f) => errors[f])) updateDraft({ advancedOpen: true });
        if (errors.negativePrompt) negOpen.value = true;
        fieldErrors.value = errors;
      } else {
        fieldErrors.value = { form: e?.status === 0 ? message : `Not queued: ${message}` };
      }
      showToast({ kind: "error", title: "Not queued", body: message });
    });
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") {
      e.preventDefault();
      submit();
    }
  };

  const count = d.prompt.length;
  const over = count > PROMPT_MAX;
  const modelInfo = m?.models.find((x) => x.id === d.model);
  const knownModel = !!modelInfo;
  const customMode = !!m?.custom_models && !knownModel;
  const remoteOff = !!m && !m.providers.some((p) => p.configured && p.name !== "local");
  const providers = m ? [...new Set(m.models.map((x) => x.provider))] : [];
  const errors = fieldErrors.value;

  return (
    <form
      class="gen"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
      onKeyDown={onKeyDown}
      aria-labelledby="gen-title"
    >
      <h2 id="gen-title" class="sr-only">Generate an image</h2>
      <div class="field">
        <label for="f-prompt" class="label">Prompt</label>
        <textarea
          id="f-prompt"
          ref={promptRef}
          class="prompt-input"
          rows={5}
          placeholder={placeholder ?? "A lighthouse on a cliff at dusk, volumetric light, 35 mm"}
          value={d.prompt}
          onInput={(e) => {
            updateDraft({ prompt: e.currentTarget.value });
            clearError("prompt");
          }}
          {...invalid("prompt", "f-prompt-count")}
        />
        <div class="field-foot">
          <FieldError name="prompt" />
          <span id="f-prompt-count" class={over ? "counter over" : "counter"}>
            {count.toLocaleString()} / {PROMPT_MAX.toLocaleString()}
            <span class="sr-only">characters</span>
          </span>
        </div>
      </div>

      <div class="field">
        <button
          type="button"
          class="disclosure"
          aria-expanded={negOpen.value}
          aria-controls="neg-region"
          onClick={() => negOpen.value = !negOpen.value}
        >
          <Icon name="chevronDown" size={16} class={negOpen.value ? "rot" : ""} />
          Negative prompt{d.negativePrompt && !negOpen.value ? " (set)" : ""}
        </button>
        <div id="neg-region" hidden={!negOpen.value}>
          <label for="f-negative" class="sr-only">Negative prompt</label>
          <textarea
            id="f-negative"
            rows={2}
            placeholder="What to keep out: blurry, watermark, extra fingers"
            value={d.negativePrompt}
            onInput={(e) => {
              updateDraft({ negativePrompt: e.currentTarget.value });
              clearError("negativePrompt");
            }}
            {...invalid("negativePrompt")}
          />
          <FieldError name="negativePrompt" />
        </div>
      </div>

      <div class="row">
        <div class="field grow">
          <label for="f-model" class="label">Model</label>
          {m
            ? (
              <select
                id="f-model"
                value={knownModel ? d.model : customMode ? CUSTOM : ""}
                onChange={(e) => {
                  const v = e.currentTarget.value;
                  updateDraft({ model: v === CUSTOM ? "" : v });
                  clearError("model");
                  if (v === CUSTOM) {queueMicrotask(() =>
                      document.getElementById("f-custom")?.focus()
                    );}
                }}
                {...invalid("model", modelInfo ? "f-model-desc f-model-hint" : "f-model-hint")}
              >
                {providers.map((p) => (
                  <optgroup key={p} label={GROUP_LABELS[p] ?? p}>
                    {m.models.filter((x) => x.provider === p).map((x) => (
                      <option key={x.id} value={x.id} title={x.description}>
                        {x.targets ? `${x.id} · ${routeProviders(x)}` : x.id}
                      </option>
                    ))}
                  </optgroup>
                ))}
                {m.custom_models && <option value={CUSTOM}>Other Replicate model…</option>}
              </select>
            )
            : (
              <select id="f-model" disabled aria-describedby="f-model-hint">
                <option>{modelsError.value ? "Models unavailable" : "Loading models…"}</option>
              </select>
            )}
          {customMode && (
            <input
              id="f-custom"
              class="mt"
              type="text"
              spellcheck={false}
              autoComplete="off"
              placeholder="owner/name or owner/name:version"
              aria-label="Replicate model"
              value={d.model}
              onInput={(e) => {
                updateDraft({ model: e.currentTarget.value.trim() });
                clearError("model");
              }}
              {...invalid("model")}
            />
          )}
          <FieldError name="model" />
          {modelInfo && (
            <p id="f-model-desc" class="model-desc">
              {modelInfo.description}
              {modelInfo.targets && (
                <>
                  {" "}Served by{" "}
                  {routeTargets(modelInfo)}; the next one takes the job only when a provider never
                  accepted it.
                </>
              )}
            </p>
          )}
          <p id="f-model-hint" class="hint">
            {modelsError.value
              ? (
                <>
                  Cannot load models: {modelsError.value}.{" "}
                  <button type="button" class="link" onClick={() => void loadModels()}>
                    Try again
                  </button>
                </>
              )
              : remoteOff
              ? "Only the offline local models are available: set REPLICATE_API_TOKEN (Replicate) or FAL_KEY (fal.ai)."
              : m?.custom_models
              ? "Any Replicate model works: pick “Other Replicate model…” (or type fal:<endpoint> for fal.ai)."
              : ""}
          </p>
        </div>
      </div>

      <fieldset class="field">
        <legend class="label">Aspect ratio</legend>
        <div class="chips">
          {ASPECT_KEYS.map((k) => {
            const s = ASPECTS[k];
            const id = `f-aspect-${k.replace(":", "-")}`;
            return (
              <label key={k} class="chip" for={id} title={`${s.width} × ${s.height}`}>
                <input
                  type="radio"
                  id={id}
                  name="aspect"
                  value={k}
                  checked={d.aspect === k}
                  onChange={() => {
                    updateDraft({ aspect: k });
                    clearError("aspect");
                  }}
                />
                <RatioShape w={s.width} h={s.height} />
                <span>{k}</span>
                <span class="chip-sub">{s.width}×{s.height}</span>
              </label>
            );
          })}
        </div>
        <FieldError name="aspect" />
      </fieldset>

      <div class="row wrap">
        <fieldset class="field">
          <legend class="label">Images</legend>
          <div class="segmented">
            {[1, 2, 3, 4].map((n) => (
              <label key={n} class="seg" for={`f-n-${n}`}>
                <input
                  type="radio"
                  id={`f-n-${n}`}
                  name="num_outputs"
                  value={n}
                  checked={d.numOutputs === n}
                  onChange={() => {
                    updateDraft({ numOutputs: n });
                    clearError("numOutputs");
                  }}
                />
                <span>{n}</span>
              </label>
            ))}
          </div>
          <FieldError name="numOutputs" />
        </fieldset>

        <div class="field grow">
          <label for="f-seed" class="label">Seed</label>
          <div class="input-group">
            <input
              id="f-seed"
              type="text"
              inputMode="numeric"
              autoComplete="off"
              placeholder="Random"
              value={d.seed ?? ""}
              onInput={(e) => {
                const digits = e.currentTarget.value.replace(/\D/g, "").slice(0, 10);
                if (digits !== e.currentTarget.value) e.currentTarget.value = digits;
                updateDraft(
                  digits === ""
                    ? { seed: null, seedLocked: false }
                    : { seed: Number(digits), seedLocked: true },
                );
                clearError("seed");
              }}
              {...invalid("seed", "f-seed-hint")}
            />
            <button
              type="button"
              class="btn btn-icon"
              aria-label="Random seed"
              title="Random seed"
              onClick={() => {
                updateDraft({ seed: randomSeed() });
                clearError("seed");
              }}
            >
              <Icon name="dice" />
            </button>
            <button
              type="button"
              class={d.seedLocked ? "btn btn-icon on" : "btn btn-icon"}
              aria-pressed={d.seedLocked}
              aria-label="Keep this seed"
              title={d.seedLocked ? "Seed locked: every job uses it" : "Lock the seed"}
              onClick={() =>
                updateDraft(
                  d.seedLocked
                    ? { seedLocked: false }
                    : { seedLocked: true, seed: d.seed ?? randomSeed() },
                )}
            >
              <Icon name={d.seedLocked ? "lock" : "unlock"} />
            </button>
          </div>
          <FieldError name="seed" />
          <p id="f-seed-hint" class="hint">
            {d.seedLocked ? "Locked: every job uses this seed." : "A new seed for every job."}
          </p>
        </div>
      </div>

      <div class="field">
        <button
          type="button"
          class="disclosure"
          aria-expanded={d.advancedOpen}
          aria-controls="adv-region"
          onClick={() => updateDraft({ advancedOpen: !d.advancedOpen })}
        >
          <Icon name="chevronDown" size={16} class={d.advancedOpen ? "rot" : ""} />
          Advanced settings
          {!d.advancedOpen &&
            advancedSummary(d).map((part) => <span key={part} class="adv-chip">{part}</span>)}
          {!d.advancedOpen && ADVANCED.some((f) => errors[f]) && (
            <span class="field-error-inline">(check these)</span>
          )}
        </button>
        <div id="adv-region" class="advanced" hidden={!d.advancedOpen}>
          <div class="row wrap">
            <NumberField
              name="steps"
              label="Steps"
              min={1}
              max={500}
              step={1}
              value={d.steps}
            />
            <NumberField
              name="guidance"
              label="Guidance"
              min={0}
              max={50}
              step={0.5}
              value={d.guidance}
            />
            <div class="field grow">
              <label for="f-priority" class="label">Priority</label>
              <select
                id="f-priority"
                value={d.priority}
                onChange={(e) => {
                  updateDraft({ priority: e.currentTarget.value as PriorityName });
                  clearError("priority");
                }}
                {...invalid("priority", "f-priority-hint")}
              >
                {PRIORITIES.map((p) => <option key={p} value={p}>{PRIORITY_LABELS[p]}</option>)}
              </select>
              <FieldError name="priority" />
              <p id="f-priority-hint" class="hint">
                High jobs run before normal, normal before low.
              </p>
            </div>
          </div>
          <div class="field">
            <label for="f-extra" class="label">Extra parameters (JSON)</label>
            <textarea
              id="f-extra"
              class="mono"
              rows={3}
              spellcheck={false}
              placeholder='{"output_format": "png", "scheduler": "K_EULER"}'
              value={d.extraJson}
              onInput={(e) => {
                updateDraft({ extraJson: e.currentTarget.value });
                clearError("extraJson");
              }}
              {...invalid("extraJson", "f-extra-hint")}
            />
            <FieldError name="extraJson" />
            <p id="f-extra-hint" class="hint">
              Sent to the model as they are; they override the fields above.
            </p>
          </div>
        </div>
      </div>

      {errors.form && (
        <p class="form-error" role="alert">
          <Icon name="alert" size={16} /> {errors.form}
        </p>
      )}

      <RateLimitNotice />

      <div class="submit-row">
        <button
          type="submit"
          class="btn btn-primary btn-large"
          aria-describedby={rateLimit.value ? "rate-limit" : undefined}
        >
          <Icon name="sparkles" />
          Generate
          <kbd class="kbd" aria-hidden="true">{isMac ? "⌘" : "Ctrl"} ↵</kbd>
        </button>
        <span class="hint" aria-live="off">
          {sent.value > 0
            ? "Queued. Keep going: every submission runs in the background."
            : "Jobs run in the background; you can queue several."}
        </span>
      </div>
    </form>
  );
}
