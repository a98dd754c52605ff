/** Width and height together: aspect-ratio chips that set both, and the two number boxes. */
import { draft, setInputs } from "../../state/form.ts";
import { ASPECTS, type SizeFieldDesc, valueOf } from "../../state/schema_form.ts";
import { RatioShape } from "./ChoiceField.tsx";
import { NumberBox } from "./NumberField.tsx";
import { clearError, FieldError, FieldFrame } from "./Shell.tsx";

/** The size field of a model that takes `width` and `height`. */
export function SizeField({ field }: { field: SizeFieldDesc }) {
  const inputs = draft.value.inputs;
  const w = valueOf(field.width, inputs);
  const h = valueOf(field.height, inputs);
  const wKey = "parameters.width" as const;
  const hKey = "parameters.height" as const;
  const clear = () => {
    clearError(wKey);
    clearError(hKey);
  };
  const onReset = "width" in inputs || "height" in inputs
    ? () => {
      setInputs({ width: undefined, height: undefined });
      clear();
    }
    : undefined;
  return (
    <FieldFrame
      id="f-size"
      label={field.label}
      required={field.required}
      error={wKey}
      onReset={onReset}
      group
      wide
    >
      {field.presets.length > 0 && (
        <div class="chips" role="radiogroup" aria-labelledby="f-size-label">
          {field.presets.map((k) => {
            const s = ASPECTS[k];
            return (
              <label key={k} class="chip" title={`${s.width} × ${s.height}`}>
                <input
                  type="radio"
                  id={`f-aspect-${k.replace(":", "-")}`}
                  name="f-size"
                  value={k}
                  checked={w === s.width && h === s.height}
                  onChange={() => {
                    setInputs({ width: s.width, height: s.height });
                    clear();
                  }}
                />
                <RatioShape w={s.width} h={s.height} />
                <span>{k}</span>
                <span class="chip-sub">{s.width}×{s.height}</span>
              </label>
            );
          })}
        </div>
      )}
      <div class="size-boxes">
        <NumberBox field={field.width} id="f-in-width" error={wKey} label="Width" />
        <span aria-hidden="true">×</span>
        <NumberBox field={field.height} id="f-in-height" error={hKey} label="Height" />
        <span class="hint">px</span>
      </div>
      <FieldError name={hKey} />
    </FieldFrame>
  );
}
