/**
 * The model picker: a combobox over the offered models (local, suggested, recent), filtered as
 * one types; any `owner/name[:version]` typed in is looked up (debounced) and can be used.
 * Keyboard: ↓/↑ move, Enter picks, Esc closes.
 */
import { useSignal } from "@preact/signals";
import { useEffect, useRef } from "preact/hooks";
import type { ModelCard, ModelEntry } from "../api_client.ts";
import { draft, isModelId, updateDraft } from "../state/form.ts";
import { loadModels, models, modelsError } from "../state/live.ts";
import { type CardProblem, cardProblem, cards, cardState, loadCard } from "../state/models.ts";
import { Icon } from "./Icon.tsx";
import { clearError, FieldError, invalid } from "./fields/Shell.tsx";

/** How long typing must pause before a typed `owner/name` is looked up. */
export const LOOKUP_DEBOUNCE_MS = 350;

const GROUPS = [
  { source: "local", label: "Local (offline)" },
  { source: "curated", label: "Suggested" },
  { source: "recent", label: "Recent" },
  { source: "route", label: "Aliases (with failover)" },
] as const;

type Lookup =
  | { id: string; status: "loading" }
  | { id: string; status: "ready"; card: ModelCard }
  | { id: string; status: "error"; problem: CardProblem };

function sourceOf(e: ModelEntry): string {
  return e.source ??
    (e.provider === "local" ? "local" : e.provider === "route" ? "route" : "curated");
}

/** `replicate → fal`: the configured providers behind an alias, in the order they are tried. */
function routeProviders(e: ModelEntry): string {
  return (e.targets ?? []).filter((t) => t.configured).map((t) => t.provider).join(" → ");
}

function matches(e: ModelEntry, q: string): boolean {
  return [e.id, e.title, e.description].some((t) => t?.toLowerCase().includes(q));
}

/** The Model field of the Generate form. */
export function ModelPicker() {
  const m = models.value;
  const model = draft.value.model.trim();
  const open = useSignal(false);
  const query = useSignal<string | null>(null);
  const active = useSignal(-1);
  const lookup = useSignal<Lookup | null>(null);
  const inputRef = useRef<HTMLInputElement>(null);

  const q = (query.value ?? "").trim().toLowerCase();
  const entries = m?.models ?? [];
  const shown = q ? entries.filter((e) => matches(e, q)) : entries;
  const typed = q && isModelId(q) && !entries.some((e) => e.id === q) ? q : null;
  const look = lookup.value?.id === typed ? lookup.value : null;
  const typedBlocked = look?.status === "error" && !look.problem.retry;
  const groups = GROUPS.map((g) => ({ ...g, items: shown.filter((e) => sourceOf(e) === g.source) }))
    .filter((g) => g.items.length > 0);
  const options = [
    ...(typed ? [{ id: typed, disabled: typedBlocked }] : []),
    ...groups.flatMap((g) => g.items.map((e) => ({ id: e.id, disabled: false }))),
  ];
  const optId = (i: number) => `f-model-opt-${i}`;

  // A typed owner/name is looked up once typing pauses.
  useEffect(() => {
    if (!typed) return;
    const timer = setTimeout(() => {
      lookup.value = { id: typed, status: "loading" };
      cards.get(typed).then(
        (card) => {
          if (lookup.value?.id === typed) lookup.value = { id: typed, status: "ready", card };
        },
        (err) => {
          if (lookup.value?.id === typed) {
            lookup.value = { id: typed, status: "error", problem: cardProblem(typed, err) };
          }
        },
      );
    }, LOOKUP_DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [typed]);

  useEffect(() => {
    if (open.value && active.value >= 0) {
      document.getElementById(optId(active.value))?.scrollIntoView({ block: "nearest" });
    }
  }, [active.value, open.value]);

  const close = () => {
    open.value = false;
    query.value = null;
    active.value = -1;
  };
  const choose = (id: string) => {
    if (id !== model) updateDraft({ model: id });
    clearError("model");
    close();
  };
  const move = (delta: number) => {
    if (!options.length) return;
    if (!open.value) {
      open.value = true;
      active.value = Math.max(0, options.findIndex((o) => o.id === model));
      return;
    }
    let i = active.value;
    for (let n = 0; n < options.length; n++) {
      i = (i + delta + options.length) % options.length;
      if (!options[i].disabled) break;
    }
    active.value = i;
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      move(e.key === "ArrowDown" ? 1 : -1);
    } else if (e.key === "Enter" && !e.ctrlKey && !e.metaKey) {
      e.preventDefault();
      // The active option, or the first one when something was typed.
      const pick = options[active.value] ?? (q ? options.find((o) => !o.disabled) : undefined);
      if (open.value && pick && !pick.disabled) choose(pick.id);
      else if (typed && !typedBlocked) choose(typed);
      else if (!open.value) move(1);
    } else if (e.key === "Escape" && open.value) {
      e.preventDefault();
      e.stopPropagation();
      close();
    }
  };

  const disabled = !m;
  const cs = cardState.value?.id === model ? cardState.value : null;
  const entry = entries.find((e) => e.id === model);
  const replicate = m?.providers.find((p) => p.name === "replicate");
  const describedBy = ["f-model-desc", "f-model-hint"].join(" ");

  return (
    <div class="field picker">
      <label for="f-model" class="label">Model</label>
      <div class="picker-box">
        <Icon name="search" size={16} />
        <input
          id="f-model"
          ref={inputRef}
          type="text"
          role="combobox"
          autoComplete="off"
          spellcheck={false}
          disabled={disabled}
          placeholder={disabled
            ? (modelsError.value ? "Models unavailable" : "Loading models…")
            : m?.custom_models
            ? "Search, or type owner/name"
            : "Search models"}
          aria-expanded={open.value}
          aria-controls="f-model-list"
          aria-autocomplete="list"
          aria-activedescendant={open.value && active.value >= 0 ? optId(active.value) : undefined}
          value={query.value ?? model}
          onFocus={(e) => e.currentTarget.select()}
          onClick={() => {
            if (!open.value) open.value = true;
          }}
          onInput={(e) => {
            query.value = e.currentTarget.value;
            open.value = true;
            active.value = -1;
          }}
          onBlur={() => {
            if (typed && !typedBlocked) choose(typed);
            else close();
          }}
          onKeyDown={onKeyDown}
          {...invalid("model", describedBy)}
        />
        <button
          type="button"
          class="picker-toggle"
          tabIndex={-1}
          aria-label="Show all models"
          disabled={disabled}
          onMouseDown={(e) => e.preventDefault()}
          onClick={() => {
            if (open.value) close();
            else {
              open.value = true;
              inputRef.current?.focus();
            }
          }}
        >
          <Icon name="chevronDown" size={16} />
        </button>
        <div
          id="f-model-list"
          class="listbox"
          role="listbox"
          aria-label="Models"
          hidden={!open.value}
        >
          {typed && (
            <div
              role="option"
              id={optId(0)}
              class={active.value === 0 ? "opt active" : "opt"}
              data-value={typed}
              aria-selected={typed === model}
              aria-disabled={typedBlocked || undefined}
              onMouseDown={(e) => e.preventDefault()}
              onClick={() => !typedBlocked && choose(typed)}
            >
              <span class="opt-title">Use {typed}</span>
              <span class={look?.status === "error" ? "opt-desc opt-bad" : "opt-desc"}>
                {!look || look.status === "loading"
                  ? "Looking it up…"
                  : look.status === "ready"
                  ? [look.card.title, look.card.description].filter(Boolean).join(": ")
                  : look.problem.message}
              </span>
            </div>
          )}
          {groups.map((g) => (
            <div key={g.source} role="group" aria-labelledby={`f-model-g-${g.source}`}>
              <div class="opt-group" id={`f-model-g-${g.source}`}>{g.label}</div>
              {g.items.map((e) => {
                const i = options.findIndex((o) =>
                  o.id === e.id
                );
                return (
                  <div
                    key={e.id}
                    role="option"
                    id={optId(i)}
                    class={active.value === i ? "opt active" : "opt"}
                    data-value={e.id}
                    aria-selected={e.id === model}
                    onMouseDown={(ev) => ev.preventDefault()}
                    onMouseMove={() =>
                      active.value = i}
                    onClick={() => choose(e.id)}
                  >
                    <span class="opt-title">
                      {e.title || e.id}
                      {e.id === model && <Icon name="check" size={14} />}
                    </span>
                    <span class="opt-desc">
                      <span class="mono">{e.id}</span>
                      {e.description ? ` · ${e.description}` : ""}
                      {e.targets ? ` · served by ${routeProviders(e)}` : ""}
                    </span>
                  </div>
                );
              })}
            </div>
          ))}
          {options.length === 0 && (
            <div class="opt-empty">
              No model matches “{query.value}”.{" "}
              {m?.custom_models ? "Type owner/name for any Replicate model." : ""}
            </div>
          )}
        </div>
      </div>
      <FieldError name="model" />
      <p id="f-model-desc" class="model-desc" aria-live="polite">
        {cs?.status === "loading"
          ? "Loading the model's inputs…"
          : cs?.status === "ready"
          ? cs.card.description || entry?.description || cs.card.title
          : entry?.description ?? ""}
      </p>
      {cs?.status === "error" && (
        <p class="field-error" role="alert">
          <Icon name="alert" size={14} /> {cs.problem.message}.
          {cs.problem.retry && (
            <>
              {" "}
              <button type="button" class="link" onClick={() => void loadCard(model)}>
                Try again
              </button>
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
          : replicate && !replicate.configured
          ? "Only the offline local models are available: set REPLICATE_API_TOKEN to use Replicate."
          : ""}
      </p>
    </div>
  );
}
