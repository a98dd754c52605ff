/**
 * Model cards in the page: fetched once per model id and kept in memory, the card of the model
 * the draft names (and the form built from it), and the draft fitted to that form when the model
 * changes (with the values left behind, for a notice).
 */
import { computed, effect, signal } from "@preact/signals";
import { ApiError, type ModelCard } from "../api_client.ts";
import { type Draft, draft, isModelId, type ModelForm, negativeOffered } from "./form.ts";
import { api } from "./live.ts";
import { fitDraft } from "./request.ts";
import { describeFields, type DroppedValue } from "./schema_form.ts";

/** A card, cached: `get` asks the API once per id at a time; a failure is not kept. */
export interface CardCache {
  get(id: string): Promise<ModelCard>;
  /** The card when it has been fetched already. */
  peek(id: string): ModelCard | undefined;
}

/** A cache of cards loaded with `load`. */
export function createCardCache(load: (id: string) => Promise<ModelCard>): CardCache {
  const cards = new Map<string, ModelCard>();
  const pending = new Map<string, Promise<ModelCard>>();
  return {
    get(id) {
      const known = cards.get(id);
      if (known) return Promise.resolve(known);
      let p = pending.get(id);
      if (!p) {
        p = load(id).then((card) => {
          cards.set(id, card);
          return card;
        }).finally(() => pending.delete(id));
        pending.set(id, p);
      }
      return p;
    },
    peek: (id) => cards.get(id),
  };
}

const forms = new WeakMap<ModelCard, ModelForm>();

/** The form of a card (built once per card). */
export function formOf(card: ModelCard): ModelForm {
  let form = forms.get(card);
  if (!form) {
    const props = card.input_schema?.properties ?? {};
    form = {
      fields: describeFields({ ...card.input_schema, type: "object", properties: props }),
      negativePrompt: "negative_prompt" in props,
    };
    forms.set(card, form);
  }
  return form;
}

/** A card that could not be had: the API's status (0: no answer) and what to tell the user. */
export interface CardProblem {
  status: number;
  message: string;
  /** False when asking again cannot help (unknown model, provider not configured). */
  retry: boolean;
}

/** What to say when a card cannot be loaded (404 unknown, 422 not configured, 503 provider down). */
export function cardProblem(id: string, err: unknown): CardProblem {
  const e = err instanceof ApiError ? err : null;
  const message = e?.message || String(err);
  if (e?.status === 404) {
    return { status: 404, message: `No model ${id}: check the owner and the name`, retry: false };
  }
  if (e?.status === 422) return { status: 422, message, retry: false };
  if (e?.status === 503) {
    return {
      status: 503,
      message: `The provider cannot be reached and ${id} was never looked up here (${message}). ` +
        "Try again in a moment",
      retry: true,
    };
  }
  return { status: e?.status ?? 0, message, retry: true };
}

/** The card of the draft's model. */
export type CardState =
  | { id: string; status: "loading" }
  | { id: string; status: "ready"; card: ModelCard; form: ModelForm }
  | { id: string; status: "error"; problem: CardProblem };

/** The page's cards (fetched with the page's API client). */
export const cards = createCardCache((id) => api.model(id));
/** The card of the model the draft names. */
export const cardState = signal<CardState | null>(null);
/** Values dropped by the last model change, for the notice under the picker. */
export interface DroppedNotice {
  /** The new model's id and title. */
  id: string;
  model: string;
  items: DroppedValue[];
  /** The draft's model and inputs before the change, to go back. */
  undo?: Pick<Draft, "model" | "inputs" | "inputsModel">;
}

/** The notice of the last model change that left values behind (null: none to show). */
export const droppedNotice = signal<DroppedNotice | null>(null);

const draftModel = computed(() => draft.value.model.trim());

/** The form of the draft's model, once its card is loaded. */
export const modelForm = computed<ModelForm | null>(() => {
  const s = cardState.value;
  return s?.status === "ready" && s.id === draftModel.value ? s.form : null;
});

/** Loads the card of `id` into `cardState` (again after a failure). */
export function loadCard(id: string, cache: CardCache = cards): Promise<void> {
  const known = cache.peek(id);
  if (known) {
    cardState.value = { id, status: "ready", card: known, form: formOf(known) };
    return Promise.resolve();
  }
  cardState.value = { id, status: "loading" };
  return cache.get(id).then(
    (card) => {
      if (draftModel.value !== id) return;
      cardState.value = { id, status: "ready", card, form: formOf(card) };
    },
    (err) => {
      if (draftModel.value !== id) return;
      cardState.value = { id, status: "error", problem: cardProblem(id, err) };
    },
  );
}

/**
 * The card of the draft's model, waiting for it while it loads: the form to build the request
 * with, or null when the schema cannot be had (the server then checks the inputs itself).
 */
export async function settledForm(): Promise<ModelForm | null> {
  const id = draftModel.value;
  if (!isModelId(id)) return null;
  if (cardState.value?.id !== id) await loadCard(id);
  else if (cardState.value.status === "loading") await cards.get(id).catch(() => {});
  return modelForm.value;
}

let stopSync: (() => void) | null = null;

/**
 * Keeps the card in step with the draft's model, and the draft fitted to the card's form: values
 * made for the previous model carry over where they fit, the others are listed as dropped. Once
 * per page (again only after the returned stop).
 */
export function startModelSync(cache: CardCache = cards): () => void {
  if (stopSync) return stopSync;
  const stops = [
    effect(() => {
      const id = draftModel.value;
      // A notice about another model's values is stale once the model changes again.
      if (droppedNotice.peek() && droppedNotice.peek()?.id !== id) droppedNotice.value = null;
      if (isModelId(id)) void loadCard(id, cache);
      else cardState.value = null;
    }),
    effect(() => {
      negativeOffered.value = modelForm.value?.negativePrompt ?? true;
    }),
    effect(() => fitToCard(cache)),
  ];
  stopSync = () => {
    for (const stop of stops) stop();
    stopSync = null;
  };
  return stopSync;
}

/** Fits the draft to its model's form once the card is in (see `fitDraft`). */
function fitToCard(cache: CardCache): void {
  const s = cardState.value;
  const d = draft.value;
  if (s?.status !== "ready" || s.id !== d.model.trim()) return;
  const before = cache.peek(d.inputsModel);
  const fitted = fitDraft(d, s.id, s.form.fields, before ? formOf(before).fields : []);
  if (!fitted) return;
  const changed = d.inputsModel !== "" && d.inputsModel !== s.id;
  draft.value = fitted.draft;
  if (changed || fitted.dropped.length) {
    droppedNotice.value = fitted.dropped.length
      ? {
        id: s.id,
        model: s.card.title || s.id,
        items: fitted.dropped,
        undo: changed
          ? { model: d.inputsModel, inputs: d.inputs, inputsModel: d.inputsModel }
          : undefined,
      }
      : null;
  }
}
