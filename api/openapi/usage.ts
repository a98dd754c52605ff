/** GET /usage and the spend side of the jobs: budgets, the 402 answer, the price of a job. */
import { MAX_RANGE_DAYS } from "../../shared/spend/usage.ts";
import { errorExample, type Json, json, jsonError, nullable, object, ref } from "./builders.ts";
import { unauthorized } from "./common.ts";

const FIGURES: Record<string, Json> = {
  total_usd: {
    type: "number",
    minimum: 0,
    description: "Estimated spend (USD) of the jobs whose cost is known: an estimate from the " +
      "price table, not the provider's bill.",
  },
  jobs: { type: "integer", minimum: 0, description: "Jobs created in the range." },
  unpriced_jobs: {
    type: "integer",
    minimum: 0,
    description: "Jobs whose cost is not known (yet): running, or canceled while running.",
  },
  predictions: { type: "integer", minimum: 0, description: "Provider predictions made." },
  predict_time_s: {
    type: "number",
    minimum: 0,
    description: "The provider's predict time, summed (seconds).",
  },
};

/** Schemas: Usage, UsageGroup, Budget. */
export function usageSchemas(): Json {
  return {
    Budget: {
      description: "A key's monthly budget (calendar month, UTC) and what it holds this month.",
      ...object({
        month: { type: "string", pattern: "^\\d{4}-\\d{2}$" },
        budget_usd: nullable({ type: "number", minimum: 0 }),
        spent_usd: { type: "number", description: "Settled estimates of finished jobs." },
        reserved_usd: {
          type: "number",
          minimum: 0,
          description: "Estimates held by jobs still pending or running.",
        },
        remaining_usd: nullable({ type: "number", minimum: 0 }),
        warn_at: {
          type: "array",
          items: { type: "number", exclusiveMinimum: 0, maximum: 1 },
          description: "Shares of the budget at which a `budget.warning` webhook is sent.",
        },
      }),
    },
    BudgetWarning: {
      description: "The body of the `budget.warning` webhook: POSTed to a key's webhook URL " +
        "(`deno task keys create|update --webhook-url URL`) once per warn_at share and month, " +
        "when a finished job takes the month's spend past that share of the budget " +
        "(`--warn-at`, default 0.8 and 1). Signed like job webhooks (Standard Webhooks: " +
        "`webhook-id`, `webhook-timestamp`, `webhook-signature`, HMAC-SHA256 with the key's " +
        "whsec_ secret) and retried the same way.",
      ...object({
        type: { const: "budget.warning" },
        timestamp: { type: "string", format: "date-time" },
        data: object({
          key: object({
            id: { type: "string", format: "uuid" },
            name: { type: "string" },
            prefix: { type: "string" },
          }),
          month: { type: "string", pattern: "^\\d{4}-\\d{2}$" },
          threshold: { type: "number", exclusiveMinimum: 0, maximum: 1 },
          budget_usd: { type: "number" },
          spent_usd: { type: "number" },
          reserved_usd: { type: "number" },
        }),
      }),
      examples: [{
        type: "budget.warning",
        timestamp: "2026-12-07T12:00:00.000Z",
        data: {
          key: { id: "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d", name: "my-app", prefix: "dr_AbCdEfG" },
          month: "2026-12",
          threshold: 0.8,
          budget_usd: 20,
          spent_usd: 16.04,
          reserved_usd: 0.25,
        },
      }],
    },
    UsageGroup: {
      type: "object",
      required: Object.keys(FIGURES),
      description: "One group's figures, named by `day` (YYYY-MM-DD, UTC), `model` or `key` " +
        "(the key id, null for jobs made while the API was open, with its `name`).",
      properties: {
        day: { type: "string", format: "date" },
        model: { type: "string" },
        key: nullable({ type: "string", format: "uuid" }),
        name: nullable({ type: "string" }),
        ...FIGURES,
      },
    },
    Usage: {
      ...object({
        from: { type: "string", format: "date-time" },
        to: { type: "string", format: "date-time" },
        group_by: { type: "string", enum: ["day", "model", "key"] },
        key: {
          ...nullable({ type: "string", format: "uuid" }),
          description: "The key reported on; null: every key (admin, or the open API).",
        },
        currency: { const: "USD" },
        estimate: { const: true, description: "Every figure in USD is an estimate." },
        ...FIGURES,
        groups: { type: "array", items: ref("schemas", "UsageGroup") },
        budget: {
          ...nullable(ref("schemas", "Budget")),
          description: "The budget of the key reported on (null for the whole instance).",
        },
      }),
    },
  };
}

/** The 402 answer of a submit or retry past the key's monthly budget. */
export function budgetExceeded(): Json {
  return jsonError(
    "The job's estimated cost would take the key over its monthly budget; nothing was stored " +
      "or queued. `details` has the figures (USD).",
    {
      budget: errorExample(
        "budget_exceeded",
        "This job (estimated $0.03) would take the key over its monthly budget of $20.00 for " +
          "2026-12: $19.98 spent, $0.00 reserved by running jobs",
        {
          budget_usd: 20,
          spent_usd: 19.98,
          reserved_usd: 0,
          estimate_usd: 0.025,
          month: "2026-12",
        },
      ),
    },
  );
}

/** GET /usage. */
export function usagePaths(prefix: string): Json {
  const param = (name: string, description: string, schema: Json) => ({
    name,
    in: "query",
    required: false,
    description,
    schema,
  });
  return {
    [`${prefix}/usage`]: {
      get: {
        tags: ["Usage"],
        operationId: "usage",
        summary: "Jobs, predictions, predict time and estimated spend",
        description: "For the caller's key; an admin key sees every key (or one with `key=`); " +
          "the open API (AUTH_MODE=none) the whole instance. Jobs count by the time they were " +
          "created. Costs are estimates from the price table (PRICING).",
        parameters: [
          param(
            "from",
            "Start (inclusive): a day (`2026-12-01`, midnight UTC) or a date-time with offset. " +
              "Default: the first day of the current month.",
            { type: "string" },
          ),
          param("to", "End (exclusive), same forms. Default: now.", { type: "string" }),
          param(
            "group_by",
            `\`day\` (UTC), \`model\` or \`key\`. At most ${MAX_RANGE_DAYS} days per report.`,
            { type: "string", enum: ["day", "model", "key"], default: "day" },
          ),
          param("key", "An API key id (admin keys only, or the caller's own).", {
            type: "string",
            format: "uuid",
          }),
        ],
        responses: {
          200: json("Usage over the range.", ref("schemas", "Usage"), {
            from: "2026-12-01T00:00:00.000Z",
            to: "2026-12-07T12:00:00.000Z",
            group_by: "day",
            key: "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d",
            currency: "USD",
            estimate: true,
            total_usd: 0.056,
            jobs: 3,
            unpriced_jobs: 0,
            predictions: 3,
            predict_time_s: 4.9,
            groups: [
              {
                day: "2026-12-06",
                total_usd: 0.05,
                jobs: 2,
                unpriced_jobs: 0,
                predictions: 2,
                predict_time_s: 3.1,
              },
              {
                day: "2026-12-07",
                total_usd: 0.006,
                jobs: 1,
                unpriced_jobs: 0,
                predictions: 1,
                predict_time_s: 1.8,
              },
            ],
            budget: {
              month: "2026-12",
              budget_usd: 20,
              spent_usd: 0.056,
              reserved_usd: 0,
              remaining_usd: 19.944,
              warn_at: [0.8, 1],
            },
          }),
          401: unauthorized(),
          403: jsonError("`key=` names another key and the caller is not an admin.", {
            forbidden: errorExample("forbidden", "Only an admin key may read another key's usage"),
          }),
          422: ref("responses", "ValidationFailed"),
          503: ref("responses", "Unavailable"),
          500: ref("responses", "InternalError"),
        },
      },
    },
  };
}
