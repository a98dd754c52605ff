/**
 * The seed is always known: when a model's inputs have a `seed` and a submit gives none (or
 * null), Darkroom picks one at random within the schema's range (0 to 2^32 − 1 at most) and sends
 * it, so the job's `parameters.seed` says how to make the same image again.
 */
import type { ModelCard } from "./card.ts";
import { isObject } from "./schema.ts";

/** The widest seed range picked from: what most models take (a 32-bit unsigned integer). */
const MAX_SEED = 2 ** 32 - 1;

/** A random integer from `min` to `max` inclusive (at most 2^32 values apart). */
export function randomSeed(min = 0, max = MAX_SEED): number {
  const span = max - min + 1;
  const [value] = crypto.getRandomValues(new Uint32Array(1));
  // 2^32 values spread over `span`: the bias is at most span / 2^32, nothing for a seed.
  return min + Math.floor((value / 2 ** 32) * span);
}

/**
 * The parameters with a seed filled in when the card's inputs have an integer `seed` and the
 * parameters give none; unchanged otherwise (also without a card: the inputs are unknown).
 */
export function withSeed(
  parameters: Record<string, unknown>,
  card: ModelCard | null,
  random: (min: number, max: number) => number = randomSeed,
): Record<string, unknown> {
  if (parameters.seed !== undefined && parameters.seed !== null) return parameters;
  const field = card?.input_schema.properties.seed;
  if (!isObject(field) || (field.type !== "integer" && field.type !== "number")) return parameters;
  const bound = (v: unknown, fallback: number) =>
    typeof v === "number" && Number.isFinite(v) ? v : fallback;
  const min = Math.max(0, Math.ceil(bound(field.minimum, 0)));
  const max = Math.min(MAX_SEED, Math.floor(bound(field.maximum, MAX_SEED)));
  if (max < min) return parameters;
  return { ...parameters, seed: random(min, max) };
}
