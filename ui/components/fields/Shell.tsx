/** What every field of the Generate form shares: its error message, aria wiring, label and help. */
import type { ComponentChildren } from "preact";
import { type ErrorKey, fieldErrors } from "../../state/form.ts";
import { Icon } from "../Icon.tsx";

/** The id of the element showing the error of `key`. */
export function errorId(key: ErrorKey): string {
  return `err-${key.replace(/[^A-Za-z0-9_-]/g, "-")}`;
}

/** The error of a field, when it has one. */
export function FieldError({ name }: { name: ErrorKey }) {
  const msg = fieldErrors.value[name];
  return msg
    ? (
      <p class="field-error" id={errorId(name)}>
        <Icon name="alert" size={14} /> {msg}
      </p>
    )
    : null;
}

/** aria attributes tying a control to its help and its error message. */
export function invalid(name: ErrorKey, describedBy?: string) {
  const has = !!fieldErrors.value[name];
  const ids = [describedBy, has ? errorId(name) : ""].filter(Boolean).join(" ");
  return { "aria-invalid": has || undefined, "aria-describedby": ids || undefined };
}

/** Clears a field's error (and the form's) once the user changes it. */
export function clearError(name: ErrorKey): void {
  if (!fieldErrors.value[name] && !fieldErrors.value.form) return;
  const next = { ...fieldErrors.value };
  delete next[name];
  delete next.form;
  fieldErrors.value = next;
}

/** A field's label, help, error key and control. */
export interface FieldFrameProps {
  /** The control's id (the label points at it); `<id>-label` and `<id>-help` are made from it. */
  id: string;
  label: string;
  required?: boolean;
  description?: string;
  error: ErrorKey;
  /** Shown as "Reset" beside the label when the value differs from the model's default. */
  onReset?: () => void;
  /** A group of controls: the label is a heading they point at, not a `<label>`. */
  group?: boolean;
  wide?: boolean;
  children: ComponentChildren;
}

/** A field: label (required marked), the control, its error, then the help text. */
export function FieldFrame(props: FieldFrameProps) {
  const Label = props.group ? "span" : "label";
  return (
    <div class={props.wide ? "field sf sf-wide" : "field sf"}>
      <div class="sf-head">
        <Label
          class="label"
          id={`${props.id}-label`}
          {...(props.group ? {} : { for: props.id })}
        >
          {props.label}
          {props.required && <span class="req" aria-hidden="true">*</span>}
        </Label>
        {props.onReset && (
          <button
            type="button"
            class="link sf-reset"
            onClick={props.onReset}
            aria-label={`Reset ${props.label} to the model's default`}
          >
            Reset
          </button>
        )}
      </div>
      {props.children}
      <FieldError name={props.error} />
      {props.description && <p id={`${props.id}-help`} class="hint">{props.description}</p>}
    </div>
  );
}

/** The ids describing a control: its help text (when there is one). */
export function helpId(id: string, description?: string): string | undefined {
  return description ? `${id}-help` : undefined;
}
