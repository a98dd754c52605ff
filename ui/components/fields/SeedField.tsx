/** The seed: a number box, a dice for a new one and a lock that keeps it for every job. */
import { draft, randomSeed, updateDraft } from "../../state/form.ts";
import type { LeafField } from "../../state/schema_form.ts";
import { Icon } from "../Icon.tsx";
import { clearError, FieldFrame, invalid } from "./Shell.tsx";

const KEY = "parameters.seed" as const;

/** The seed field (shown when the model takes a `seed`). */
export function SeedField({ field }: { field: Extract<LeafField, { kind: "seed" }> }) {
  const d = draft.value;
  return (
    <FieldFrame id="f-seed" label={field.label} error={KEY} required={field.required}>
      <div class="input-group">
        <input
          id="f-seed"
          type="text"
          inputMode="numeric"
          autoComplete="off"
          placeholder="Random"
          value={d.seed ?? ""}
          onInput={(e) => {
            const digits = e.currentTarget.value.replace(/\D/g, "").slice(0, 10);
            if (digits !== e.currentTarget.value) e.currentTarget.value = digits;
            updateDraft(
              digits === ""
                ? { seed: null, seedLocked: false }
                : { seed: Number(digits), seedLocked: true },
            );
            clearError(KEY);
          }}
          {...invalid(KEY, "f-seed-hint")}
        />
        <button
          type="button"
          class="btn btn-icon"
          aria-label="Random seed"
          title="Random seed"
          onClick={() => {
            updateDraft({ seed: randomSeed() });
            clearError(KEY);
          }}
        >
          <Icon name="dice" />
        </button>
        <button
          type="button"
          class={d.seedLocked ? "btn btn-icon on" : "btn btn-icon"}
          aria-pressed={d.seedLocked}
          aria-label="Keep this seed"
          title={d.seedLocked ? "Seed locked: every job uses it" : "Lock the seed"}
          onClick={() =>
            updateDraft(
              d.seedLocked
                ? { seedLocked: false }
                : { seedLocked: true, seed: d.seed ?? randomSeed() },
            )}
        >
          <Icon name={d.seedLocked ? "lock" : "unlock"} />
        </button>
      </div>
      <p id="f-seed-hint" class="hint">
        {d.seedLocked ? "Locked: every job uses this seed." : "A new seed for every job."}
      </p>
    </FieldFrame>
  );
}
