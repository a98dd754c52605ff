/**
 * What a prediction costs: a price table by model (`owner/name`, `owner/name:version`, or `*` as
 * the default), a built-in one for the popular official Replicate models, and the estimates made
 * from it — before a job runs (to reserve against a budget) and once it ran (its `cost_usd`).
 * Replicate returns no price with a prediction: every figure here is an estimate.
 */
import { z } from "zod";

/** A model's price: per output image, per second of predict time, or per prediction. */
export type Price =
  | { per_image: number }
  | {
    per_second: number; /** Expected predict time, for estimates before the run. */
    typical_s?: number;
  }
  | { per_run: number };

/** A table of prices by model reference (`*`: every model not listed). */
export type PriceTable = Record<string, Price>;

/**
 * When the built-in prices were read, and where. Replicate's official models are priced per
 * output image on each model's page; other models are billed by the second of the hardware they
 * run on (replicate.com/pricing). Prices change: override them with PRICING.
 */
export const BUILTIN_PRICES_SOURCE =
  "replicate.com/pricing and the official models' pages, as published in 2025";

/** Seconds a per-second model is expected to run when its entry does not say (for estimates). */
export const DEFAULT_TYPICAL_S = 20;

/**
 * The built-in table: official image models per image, and a per-second default at the price of
 * an Nvidia A100 (80 GB), $0.0014/s, the dearer of the GPUs image models usually run on (an L40S
 * is $0.000975/s): an unknown model is rather over- than under-estimated.
 */
export const BUILTIN_PRICES: PriceTable = {
  "black-forest-labs/flux-schnell": { per_image: 0.003 },
  "black-forest-labs/flux-dev": { per_image: 0.025 },
  "black-forest-labs/flux-pro": { per_image: 0.055 },
  "black-forest-labs/flux-1.1-pro": { per_image: 0.04 },
  "black-forest-labs/flux-1.1-pro-ultra": { per_image: 0.06 },
  "black-forest-labs/flux-kontext-pro": { per_image: 0.04 },
  "black-forest-labs/flux-kontext-max": { per_image: 0.08 },
  "stability-ai/stable-diffusion-3.5-large": { per_image: 0.065 },
  "stability-ai/stable-diffusion-3.5-large-turbo": { per_image: 0.04 },
  "stability-ai/stable-diffusion-3.5-medium": { per_image: 0.035 },
  "ideogram-ai/ideogram-v2": { per_image: 0.08 },
  "ideogram-ai/ideogram-v2-turbo": { per_image: 0.05 },
  "recraft-ai/recraft-v3": { per_image: 0.04 },
  "google/imagen-4": { per_image: 0.04 },
  "*": { per_second: 0.0014, typical_s: DEFAULT_TYPICAL_S },
};

const usd = z.number({ error: "must be a number of USD" }).finite().min(0, {
  error: "must not be negative",
}).max(1000, { error: "must be at most 1000 USD" });

const priceSchema = z.union([
  z.object({ per_image: usd }).strict(),
  z.object({
    per_second: usd,
    typical_s: z.number().finite().min(0.1).max(86_400).optional(),
  }).strict(),
  z.object({ per_run: usd }).strict(),
], { error: "must be {per_image}, {per_second[, typical_s]} or {per_run} (USD)" });

const MODEL_KEY = /^(\*|[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*(:[0-9a-f]{64})?)$/;

const tableSchema = z.record(z.string(), priceSchema, {
  error: "must be a JSON object of model → price",
}).superRefine((table, ctx) => {
  for (const key of Object.keys(table)) {
    if (!MODEL_KEY.test(key)) {
      ctx.addIssue({
        code: "custom",
        path: [key],
        message: "keys must be owner/name, owner/name:<64-hex version> or *",
      });
    }
  }
});

/** Parses PRICING's JSON text; throws an Error naming every problem. */
export function parsePriceTable(text: string): PriceTable {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`PRICING is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = tableSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) =>
      `${i.path.join(".") || "(table)"}: ${i.message}`
    );
    throw new Error(`PRICING is invalid: ${problems.join("; ")}`);
  }
  return parsed.data as PriceTable;
}

/** True when PRICING holds the table itself rather than the path of a file holding it. */
export function isInlinePricing(value: string): boolean {
  return value.trimStart().startsWith("{");
}

/** The prices in effect and how to read them. */
export interface Pricing {
  /** Built-in entries with PRICING's over them. */
  readonly table: PriceTable;
  /** The entry that prices `model` (most specific first), or null for local models. */
  priceOf(model: string): { key: string; price: Price } | null;
}

/** A pricing over the built-in table, `overrides` winning entry by entry (including `*`). */
export function createPricing(overrides: PriceTable = {}): Pricing {
  const table: PriceTable = { ...BUILTIN_PRICES, ...overrides };
  return {
    table,
    priceOf(model) {
      if (model.startsWith("local/")) return null;
      const bare = model.split(":", 1)[0];
      for (const key of [model, bare, "*"]) {
        const price = table[key];
        if (price) return { key, price };
      }
      return null;
    },
  };
}

/**
 * The pricing from PRICING: unset → the built-in table; JSON text → over the built-in table; else
 * the path of a JSON file. Throws a clear message for an unreadable file or an invalid table.
 */
export async function loadPricing(value: string | undefined): Promise<Pricing> {
  if (!value) return createPricing();
  if (isInlinePricing(value)) return createPricing(parsePriceTable(value));
  let text: string;
  try {
    text = await Deno.readTextFile(value);
  } catch (err) {
    throw new Error(`Cannot read PRICING file ${value}: ${(err as Error).message}`);
  }
  return createPricing(parsePriceTable(text));
}

/** Output images a request asks for (`num_outputs`, 1 when absent). */
function outputsAsked(parameters: Record<string, unknown>): number {
  const n = parameters.num_outputs;
  return typeof n === "number" && Number.isInteger(n) && n > 0 ? n : 1;
}

/** Rounds to a millionth of a dollar (the precision stored). */
export function roundUsd(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

/** What a job is expected to cost before it runs (0 for local models and free entries). */
export function estimateUsd(
  pricing: Pricing,
  model: string,
  parameters: Record<string, unknown>,
): number {
  const entry = pricing.priceOf(model);
  if (!entry) return 0;
  const p = entry.price;
  if ("per_image" in p) return roundUsd(p.per_image * outputsAsked(parameters));
  if ("per_run" in p) return roundUsd(p.per_run);
  return roundUsd(p.per_second * (p.typical_s ?? DEFAULT_TYPICAL_S));
}

/** What the provider reported about one finished prediction. */
export interface PredictionUse {
  status: "succeeded" | "failed" | "canceled" | "aborted";
  /** Images stored from it. */
  outputs: number;
  /** The provider's `metrics.predict_time` (seconds), when it gave one. */
  predictTimeS?: number | null;
}

/**
 * The estimated cost of one finished prediction: images × price, seconds × price (null when the
 * provider gave no predict time), or the run price when it succeeded. 0 for local models.
 */
export function costUsd(pricing: Pricing, model: string, use: PredictionUse): number | null {
  const entry = pricing.priceOf(model);
  if (!entry) return 0;
  const p = entry.price;
  if ("per_image" in p) return roundUsd(p.per_image * use.outputs);
  if ("per_run" in p) return use.status === "succeeded" ? roundUsd(p.per_run) : 0;
  const t = use.predictTimeS;
  return typeof t === "number" && Number.isFinite(t) && t >= 0 ? roundUsd(p.per_second * t) : null;
}
