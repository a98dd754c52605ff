/** Switches for booleans, text boxes for strings, a JSON box for inputs of any other shape. */
import { draft, setInputs } from "../../state/form.ts";
import { inputDomId, type LeafField, valueOf } from "../../state/schema_form.ts";
import { clearError, FieldError, FieldFrame, helpId, invalid } from "./Shell.tsx";

type Of<K extends LeafField["kind"]> = Extract<LeafField, { kind: K }>;

function useInput(field: LeafField) {
  const key = `parameters.${field.name}` as const;
  const set = (v: string | boolean | undefined) => {
    setInputs({ [field.name]: v });
    clearError(key);
  };
  return {
    id: inputDomId(field.name),
    key,
    set,
    value: valueOf(field, draft.value.inputs),
    onReset: field.name in draft.value.inputs ? () => set(undefined) : undefined,
  };
}

/** A boolean input: a switch (a checkbox with the switch role: Space toggles it). */
export function SwitchField({ field }: { field: Of<"boolean"> }) {
  const { id, key, set, value, onReset } = useInput(field);
  const help = helpId(id, field.description);
  return (
    <div class="field sf sf-switch">
      <div class="sf-head">
        <label class="switch-row" for={id}>
          <input
            type="checkbox"
            role="switch"
            id={id}
            checked={value === true}
            aria-checked={value === true}
            onChange={(e) => set(e.currentTarget.checked)}
            {...invalid(key, help)}
          />
          <span class="switch" aria-hidden="true" />
          <span class="label" id={`${id}-label`}>
            {field.label}
            {field.required && <span class="req" aria-hidden="true">*</span>}
          </span>
        </label>
        {onReset && (
          <button
            type="button"
            class="link sf-reset"
            onClick={onReset}
            aria-label={`Reset ${field.label} to the model's default`}
          >
            Reset
          </button>
        )}
      </div>
      <FieldError name={key} />
      {field.description && <p id={help} class="hint">{field.description}</p>}
    </div>
  );
}

/** A text input (a text area for prompts and long texts). */
export function TextField({ field }: { field: Of<"text"> }) {
  const { id, key, set, value, onReset } = useInput(field);
  const props = {
    id,
    value: typeof value === "string" ? value : "",
    maxLength: field.maxLength,
    placeholder: field.required ? "Required" : "Optional",
    "aria-required": field.required || undefined,
    onInput: (e: { currentTarget: { value: string } }) => {
      const v = e.currentTarget.value;
      set(v === "" && field.default === undefined ? undefined : v);
    },
    ...invalid(key, helpId(id, field.description)),
  };
  return (
    <FieldFrame
      id={id}
      label={field.label}
      required={field.required}
      description={field.description}
      error={key}
      onReset={onReset}
      wide={field.multiline}
    >
      {field.multiline ? <textarea rows={2} {...props} /> : <input type="text" {...props} />}
    </FieldFrame>
  );
}

/** An input of another shape (a list, an object): its JSON, checked when the form is sent. */
export function JsonField({ field }: { field: Of<"json"> }) {
  const { id, key, set, value, onReset } = useInput(field);
  const text = typeof value === "string" ? value : value === undefined ? "" : JSON.stringify(value);
  return (
    <FieldFrame
      id={id}
      label={field.label}
      required={field.required}
      description={field.description}
      error={key}
      onReset={onReset}
      wide
    >
      <textarea
        id={id}
        class="mono"
        rows={2}
        spellcheck={false}
        placeholder="JSON"
        value={text}
        aria-required={field.required || undefined}
        onInput={(e) => set(e.currentTarget.value || undefined)}
        {...invalid(key, helpId(id, field.description))}
      />
    </FieldFrame>
  );
}
