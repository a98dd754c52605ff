/**
 * Everything of the Generate form below the prompt boxes, loaded after the first paint: the model
 * picker, the form built from the model's schema, and the advanced settings (priority and the
 * extra parameters for anything the schema lacks).
 */
import type { PriorityName } from "../../shared/queue/queue.ts";
import { useEffect } from "preact/hooks";
import { PRIORITIES } from "../api_client.ts";
import { draft, fieldErrors, updateDraft } from "../state/form.ts";
import { advancedSummary } from "../state/form_summary.ts";
import { cardState, droppedNotice, modelForm, startModelSync } from "../state/models.ts";
import { describeDropped } from "../state/schema_form.ts";
import { ADVANCED } from "../state/submit.ts";
import { Icon } from "./Icon.tsx";
import { ModelPicker } from "./ModelPicker.tsx";
import { SchemaForm } from "./SchemaForm.tsx";
import { clearError, FieldError, invalid } from "./fields/Shell.tsx";

const PRIORITY_LABELS: Record<PriorityName, string> = {
  normal: "Normal",
  high: "High",
  low: "Low",
};

/** Which values the last model change left behind, with a way back. */
function DroppedNotice() {
  const n = droppedNotice.value;
  if (!n) return null;
  return (
    <div class="notice notice-info dropped" role="status">
      <Icon name="alert" size={16} />
      <span class="grow">
        {n.model} does not take {n.items.length === 1 ? "this value" : "these values"}, so{" "}
        {n.items.length === 1 ? "it was" : "they were"} left out:{" "}
        <strong>{n.items.map(describeDropped).join(", ")}</strong>.
      </span>
      {n.undo && (
        <button
          type="button"
          class="link"
          onClick={() => {
            updateDraft(n.undo!);
            droppedNotice.value = null;
          }}
        >
          Undo
        </button>
      )}
      <button
        type="button"
        class="btn btn-icon btn-small btn-quiet"
        aria-label="Dismiss"
        onClick={() => droppedNotice.value = null}
      >
        <Icon name="x" size={16} />
      </button>
    </div>
  );
}

function Inputs() {
  const s = cardState.value;
  const form = modelForm.value;
  if (form && s?.status === "ready") return <SchemaForm form={form} model={s.id} />;
  if (s?.status === "loading") {
    return <div class="skeleton sf-skeleton" aria-hidden="true" />;
  }
  if (s?.status === "error") {
    return (
      <p class="hint">
        Without the model's inputs the form cannot offer them: put them in the extra parameters
        under Advanced settings.
      </p>
    );
  }
  return null;
}

/** The model and its inputs, then the advanced settings. */
export default function ModelSettings() {
  useEffect(() => startModelSync(), []);
  const d = draft.value;
  const errors = fieldErrors.value;
  return (
    <>
      <ModelPicker />
      <DroppedNotice />
      <Inputs />
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
          <div class="field">
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
              For inputs the form does not show: sent to the model as they are, over the fields
              above.
            </p>
          </div>
        </div>
      </div>
    </>
  );
}
