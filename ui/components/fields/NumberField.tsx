/** A number input: a slider with a number box when the schema bounds it, a number box otherwise. */
import { draft, type ErrorKey, setInputs } from "../../state/form.ts";
import { inputDomId, type NumberFieldDesc, valueOf } from "../../state/schema_form.ts";
import { clearError, FieldFrame, helpId, invalid } from "./Shell.tsx";

/** The number typed in a box: a number, the raw text when it is not one, undefined when empty. */
export function typedNumber(text: string): number | string | undefined {
  const t = text.trim();
  if (!t) return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : t;
}

/** The number box of an input (also used by the size field). */
export function NumberBox(
  props: {
    field: NumberFieldDesc;
    id: string;
    error: ErrorKey;
    describedBy?: string;
    /** An aria-label, for a box without a label of its own. */
    label?: string;
    class?: string;
  },
) {
  const { field, id, error, describedBy, label } = props;
  const value = valueOf(field, draft.value.inputs);
  return (
    <input
      class={props.class}
      id={id}
      type="number"
      inputMode={field.integer ? "numeric" : "decimal"}
      min={field.min}
      max={field.max}
      step={field.step}
      placeholder={field.required ? "Required" : "Default"}
      aria-label={label}
      aria-required={field.required || undefined}
      value={value === undefined ? "" : String(value)}
      onInput={(e) => {
        setInputs({ [field.name]: typedNumber(e.currentTarget.value) });
        clearError(error);
      }}
      {...invalid(error, describedBy)}
    />
  );
}

/** A number field of the model's form. */
export function NumberField({ field }: { field: NumberFieldDesc }) {
  const id = inputDomId(field.name);
  const key = `parameters.${field.name}` as const;
  const value = valueOf(field, draft.value.inputs);
  const onReset = field.name in draft.value.inputs
    ? () => {
      setInputs({ [field.name]: undefined });
      clearError(key);
    }
    : undefined;
  const help = helpId(id, field.description);
  const frame = {
    id,
    label: field.label,
    required: field.required,
    description: field.description,
    error: key,
    onReset,
    wide: field.slider,
  };
  if (!field.slider) {
    return (
      <FieldFrame {...frame}>
        <NumberBox field={field} id={id} error={key} describedBy={help} />
      </FieldFrame>
    );
  }
  const unset = typeof value !== "number";
  const mid = ((field.min ?? 0) + (field.max ?? 0)) / 2;
  return (
    <FieldFrame {...frame}>
      <div class="slider-row">
        <input
          type="range"
          class={unset ? "unset" : undefined}
          min={field.min}
          max={field.max}
          step={field.step}
          value={unset ? mid : value}
          aria-labelledby={`${id}-label`}
          aria-describedby={help}
          onInput={(e) => {
            setInputs({ [field.name]: Number(e.currentTarget.value) });
            clearError(key);
          }}
        />
        <NumberBox field={field} id={id} error={key} describedBy={help} class="num-box" />
      </div>
    </FieldFrame>
  );
}
