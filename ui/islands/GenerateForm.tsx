/**
 * The Generate form: prompt first, settings one click away; submitting never blocks it. The model
 * picker and the form built from the model's schema load after the first paint.
 */
import { type Signal, useSignal } from "@preact/signals";
import type { ComponentType } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { clearError, FieldError, invalid } from "../components/fields/Shell.tsx";
import { Icon } from "../components/Icon.tsx";
import {
  connectionError,
  draft,
  fieldErrors,
  focusPromptRequest,
  negativeOffered,
  PROMPT_MAX,
  rateLimit,
  secondsLeft,
  startDraftPersistence,
  updateDraft,
} from "../state/form.ts";
import { loadModels, models } from "../state/live.ts";
import { urlState } from "../state/url.ts";

export interface GenerateFormProps {
  /** Placeholder of the prompt box. */
  placeholder?: string;
}

const isMac = typeof navigator !== "undefined" && /Mac|iPhone|iPad/.test(navigator.platform);

type SettingsModule = { default: ComponentType };
/** The picker and the schema form, loaded once per page (after the first paint). */
let settingsModule: Promise<SettingsModule> | null = null;
function loadSettings(): Promise<SettingsModule> {
  settingsModule ??= import("../components/ModelSettings.tsx");
  return settingsModule;
}

/** Renders the lazily loaded settings, a placeholder until they arrive. */
function LazySettings({ loaded }: { loaded: Signal<ComponentType | null> }) {
  const Settings = loaded.value;
  if (Settings) return <Settings />;
  return (
    <div class="field" aria-busy="true">
      <span class="label">Model</span>
      <div class="skeleton sf-skeleton" />
    </div>
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

/** The submit code (request building, field errors), loaded once. */
const loadSubmit = () => import("../state/submit.ts");

export default function GenerateForm({ placeholder }: GenerateFormProps) {
  const promptRef = useRef<HTMLTextAreaElement>(null);
  const negOpen = useSignal(false);
  const sent = useSignal(0);
  const settings = useSignal<ComponentType | null>(null);
  const d = draft.value;
  const m = models.value;

  useEffect(() => {
    startDraftPersistence();
    if (draft.value.negativePrompt) negOpen.value = true;
    if (!models.value) void loadModels();
    loadSettings().then(
      (mod) => settings.value = mod.default,
      (err) => console.error("Cannot load the model settings", err),
    );
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

  // The submit code loads after the first paint, so a submit made while the server is away works.
  useEffect(() => {
    const timer = setTimeout(() => void loadSubmit().catch(() => {/* retried on submit */}), 0);
    return () => clearTimeout(timer);
  }, []);

  const submit = async () => {
    let submitDraft;
    try {
      ({ submitDraft } = await loadSubmit());
    } catch {
      fieldErrors.value = { form: "Not queued: Darkroom cannot be reached. Try again shortly." };
      connectionError.value = true;
      return;
    }
    await submitDraft({
      openNegative: () => negOpen.value = true,
      onQueued: () => sent.value++,
    });
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") {
      e.preventDefault();
      void submit();
    }
  };

  const count = d.prompt.length;
  const over = count > PROMPT_MAX;
  const errors = fieldErrors.value;
  // The negative prompt is offered unless the model's schema says it takes none.
  const negative = negativeOffered.value;

  return (
    <form
      class="gen"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
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
            {count.toLocaleString("en")} / {PROMPT_MAX.toLocaleString("en")}
            <span class="sr-only">characters</span>
          </span>
        </div>
      </div>

      {negative && (
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
      )}

      <LazySettings loaded={settings} />

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
