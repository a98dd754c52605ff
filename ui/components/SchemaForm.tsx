/** The model's inputs as form controls, in the schema's order (`x-order`). */
import type { ModelForm } from "../state/form.ts";
import type { FieldDesc } from "../state/schema_form.ts";
import { JsonField, SwitchField, TextField } from "./fields/BasicFields.tsx";
import { ChoiceField } from "./fields/ChoiceField.tsx";
import { ImageField } from "./fields/ImageField.tsx";
import { NumberField } from "./fields/NumberField.tsx";
import { SeedField } from "./fields/SeedField.tsx";
import { SizeField } from "./fields/SizeField.tsx";

function Field({ field }: { field: FieldDesc }) {
  switch (field.kind) {
    case "size":
      return <SizeField field={field} />;
    case "image":
      return <ImageField field={field} />;
    case "choice":
      return <ChoiceField field={field} />;
    case "number":
      return <NumberField field={field} />;
    case "seed":
      return <SeedField field={field} />;
    case "boolean":
      return <SwitchField field={field} />;
    case "text":
      return <TextField field={field} />;
    case "json":
      return <JsonField field={field} />;
  }
}

/** Every field of a model's form (the prompt boxes are the Generate form's own). */
export function SchemaForm({ form, model }: { form: ModelForm; model: string }) {
  if (!form.fields.length) {
    return <p class="hint">This model takes no other inputs.</p>;
  }
  return (
    <div class="schema-fields" data-model={model}>
      {form.fields.map((f) => <Field key={`${model} ${f.kind} ${f.name}`} field={f} />)}
    </div>
  );
}
