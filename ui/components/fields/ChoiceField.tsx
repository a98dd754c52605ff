/** An input with a few allowed values: a segmented control, aspect-ratio chips or a select. */
import { draft, setInputs } from "../../state/form.ts";
import { type ChoiceFieldDesc, inputDomId, valueOf } from "../../state/schema_form.ts";
import { clearError, FieldFrame, helpId, invalid } from "./Shell.tsx";

/** A small rectangle showing a ratio inside an aspect chip. */
export function RatioShape({ w, h }: { w: number; h: number }) {
  const s = 14 / Math.max(w, h);
  const rw = w * s;
  const rh = h * s;
  return (
    <svg class="ratio" width="18" height="18" viewBox="0 0 18 18" aria-hidden="true">
      <rect x={(18 - rw) / 2} y={(18 - rh) / 2} width={rw} height={rh} rx="1.5" />
    </svg>
  );
}

function ratioOf(option: string | number): [number, number] | null {
  const m = /^(\d+):(\d+)$/.exec(String(option));
  return m && Number(m[1]) > 0 && Number(m[2]) > 0 ? [Number(m[1]), Number(m[2])] : null;
}

/** A choice field of the model's form. */
export function ChoiceField({ field }: { field: ChoiceFieldDesc }) {
  const id = inputDomId(field.name);
  const key = `parameters.${field.name}` as const;
  const current = valueOf(field, draft.value.inputs);
  const set = (v: string | number | undefined) => {
    setInputs({ [field.name]: v });
    clearError(key);
  };
  const onReset = field.name in draft.value.inputs ? () => set(undefined) : undefined;
  const frame = {
    id,
    label: field.label,
    required: field.required,
    description: field.description,
    error: key,
    onReset,
  };

  if (field.control === "select") {
    const index = field.options.findIndex((o) => o === current);
    return (
      <FieldFrame {...frame}>
        <select
          id={id}
          value={index >= 0 ? String(index) : ""}
          aria-required={field.required || undefined}
          onChange={(e) => {
            const i = e.currentTarget.value;
            set(i === "" ? undefined : field.options[Number(i)]);
          }}
          {...invalid(key, helpId(id, field.description))}
        >
          {index < 0 && <option value="">{field.required ? "Choose…" : "Model default"}</option>}
          {field.options.map((o, i) => (
            <option key={String(o)} value={String(i)}>{String(o)}</option>
          ))}
        </select>
      </FieldFrame>
    );
  }

  const chips = field.control === "chips";
  return (
    <FieldFrame {...frame} group wide={chips}>
      <div
        id={id}
        class={chips ? "chips" : "segmented"}
        role="radiogroup"
        aria-labelledby={`${id}-label`}
        aria-required={field.required || undefined}
        {...invalid(key, helpId(id, field.description))}
      >
        {field.options.map((o, i) => {
          const ratio = chips ? ratioOf(o) : null;
          return (
            <label key={String(o)} class={chips ? "chip" : "seg"}>
              <input
                type="radio"
                id={`${id}-${i}`}
                name={id}
                value={String(o)}
                checked={current === o}
                onChange={() => set(o)}
              />
              {ratio && <RatioShape w={ratio[0]} h={ratio[1]} />}
              <span>{String(o)}</span>
            </label>
          );
        })}
      </div>
    </FieldFrame>
  );
}
