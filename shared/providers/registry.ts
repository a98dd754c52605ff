/** Which providers are configured, and which provider serves a model. */
import type { Config } from "../config.ts";
import {
  createLocalProvider,
  isLocalModel,
  LOCAL_STYLES,
  type LocalProviderOptions,
} from "./local.ts";
import type { Provider } from "./provider.ts";
import { createReplicateProvider } from "./replicate.ts";
import { createSafeFetch } from "../http/safe_fetch.ts";
import { type CircuitSet, createCircuitSet, guardProvider } from "./circuit.ts";
import { falFromConfig } from "./fal.ts";
import { isFalModel, type ProviderKind, providerKindOf } from "./model_ref.ts";
import { mapParameters, parseModelRoutes, type Placement, type RouteTable } from "./routes.ts";

export interface ModelInfo {
  id: string;
  /** `local`, `replicate`, `fal`, or `route` for an alias. */
  provider: string;
  /** A short name for pickers (the catalogue's when absent). */
  title?: string;
  description: string;
  /** An alias's targets in order, with whether their provider is configured here. */
  targets?: { model: string; provider: ProviderKind; configured: boolean }[];
}

/** A provider as the API describes it: configured or not, and what to set when not. */
export interface ProviderStatus {
  name: string;
  configured: boolean;
  hint?: string;
}

export interface ProviderRegistry {
  /**
   * The provider for a model, or a message saying what to configure. For an alias, the provider
   * of its first configured target, and `route`.
   */
  resolve(model: string): { provider: Provider; route?: string } | { error: string };
  /** Provider by name (the worker resumes a job with the provider stored on it). */
  byName(name: string): Provider | undefined;
  /**
   * Where a new prediction for `model` may go, in order, each with its parameters mapped: one
   * target for a model, the configured targets of an alias (empty when none is configured).
   */
  targets?(model: string, parameters: Record<string, unknown>): Placement<Provider>[];
  /** The circuit breakers of the remote providers. */
  circuits?: CircuitSet;
  /** Configured providers and suggested models (what the UI may offer). */
  describe(): {
    providers: ProviderStatus[];
    models: ModelInfo[];
  };
}

/**
 * Suggested Replicate models, popular text-to-image and image-editing ones (any
 * `owner/name[:version]` works when a token is set).
 */
export const SUGGESTED_REPLICATE_MODELS: readonly ModelInfo[] = [
  {
    id: "black-forest-labs/flux-schnell",
    provider: "replicate",
    title: "FLUX.1 [schnell]",
    description: "FLUX.1 [schnell]: fast, 1–4 steps",
  },
  {
    id: "black-forest-labs/flux-dev",
    provider: "replicate",
    title: "FLUX.1 [dev]",
    description: "FLUX.1 [dev]: high quality, slower",
  },
  {
    id: "black-forest-labs/flux-1.1-pro",
    provider: "replicate",
    title: "FLUX1.1 [pro]",
    description: "FLUX1.1 [pro]: best quality",
  },
  {
    id: "black-forest-labs/flux-kontext-pro",
    provider: "replicate",
    title: "FLUX.1 Kontext [pro]",
    description: "FLUX.1 Kontext [pro]: edit an image with a text instruction",
  },
  {
    id: "google/nano-banana",
    provider: "replicate",
    title: "Nano Banana",
    description: "Gemini 2.5 Flash Image: generate, or edit and combine images",
  },
  {
    id: "stability-ai/stable-diffusion-3.5-large",
    provider: "replicate",
    title: "Stable Diffusion 3.5 Large",
    description: "Stable Diffusion 3.5 Large",
  },
  {
    id: "nightmareai/real-esrgan",
    provider: "replicate",
    title: "Real-ESRGAN",
    description: "Upscale an image 2–4x, optionally fixing faces",
  },
];

/** Suggested fal models (any `fal:<endpoint id>` works when FAL_KEY is set). */
export const SUGGESTED_FAL_MODELS: readonly ModelInfo[] = [
  { id: "fal:fal-ai/flux/schnell", provider: "fal", description: "FLUX.1 [schnell] on fal" },
  { id: "fal:fal-ai/flux/dev", provider: "fal", description: "FLUX.1 [dev] on fal" },
  { id: "fal:fal-ai/flux-pro/v1.1", provider: "fal", description: "FLUX1.1 [pro] on fal" },
  { id: "fal:fal-ai/fast-sdxl", provider: "fal", description: "Fast SDXL on fal" },
];

export interface RegistryOptions {
  local?: Provider;
  replicate?: Provider;
  fal?: Provider;
  /** Breakers of the remote providers (one set is made when omitted). */
  circuits?: CircuitSet;
  /** Aliases (the built-in table laid over with MODEL_ROUTES when omitted). */
  routes?: RouteTable;
  /** How the local provider renders its images (a render thread in the services). */
  render?: LocalProviderOptions["render"];
}

/** Builds the registry from configuration (providers may be passed in, e.g. by tests). */
export function createProviderRegistry(
  config:
    & Pick<
      Config,
      "REPLICATE_API_TOKEN" | "REPLICATE_BASE_URL" | "PROVIDER_TIMEOUT_MS" | "LOCAL_STEP_MS"
    >
    & {
      ALLOW_PRIVATE_DOWNLOADS?: boolean;
      PUBLIC_BASE_URL?: string;
      API_V1_PREFIX?: string;
      /** `Prefer: wait=N` on creates (shared/providers/replicate.ts); 0 or unset: off. */
      REPLICATE_PREFER_WAIT_S?: number;
    }
    & FalConfig,
  options: RegistryOptions = {},
): ProviderRegistry {
  const local = options.local ??
    createLocalProvider({ stepMs: config.LOCAL_STEP_MS, render: options.render });
  const circuits = options.circuits ?? createCircuitSet({
    failures: config.PROVIDER_CIRCUIT_FAILURES,
    cooldownMs: config.PROVIDER_CIRCUIT_COOLDOWN_S === undefined
      ? undefined
      : config.PROVIDER_CIRCUIT_COOLDOWN_S * 1000,
  });
  const routes = options.routes ?? parseModelRoutes(config.MODEL_ROUTES);
  const guard = (p: Provider | undefined) => p && guardProvider(p, circuits.of(p.name));
  const fal = guard(options.fal ?? (config.FAL_KEY ? falFromConfig(config) : undefined));
  const replicate = guard(
    options.replicate ??
      (config.REPLICATE_API_TOKEN
        ? createReplicateProvider({
          token: config.REPLICATE_API_TOKEN,
          baseUrl: config.REPLICATE_BASE_URL,
          timeoutMs: config.PROVIDER_TIMEOUT_MS,
          preferWaitS: config.REPLICATE_PREFER_WAIT_S,
          webhookUrl: config.PUBLIC_BASE_URL
            ? `${config.PUBLIC_BASE_URL}${config.API_V1_PREFIX ?? "/api/v1"}/webhooks/replicate`
            : undefined,
          // Outputs come from URLs the provider chose: https only, never a private address
          // (except the provider's own host, so a local fake provider works).
          downloadFetch: createSafeFetch({
            allowHosts: [new URL(config.REPLICATE_BASE_URL).host],
            allowPrivate: config.ALLOW_PRIVATE_DOWNLOADS ?? false,
            timeoutMs: config.PROVIDER_TIMEOUT_MS,
          }),
        })
        : undefined),
  );
  const byKind = (kind: ProviderKind): Provider | undefined =>
    kind === "local" ? local : kind === "fal" ? fal : replicate;
  return {
    circuits,
    resolve(model) {
      const route = routes.get(model);
      if (route) {
        const first = route.targets.map((t) => byKind(t.provider)).find((p) => p !== undefined);
        if (first) return { provider: first, route: route.alias };
        return {
          error: `Model ${model} routes to ${
            [...new Set(route.targets.map((t) => t.provider))].join(" and ")
          }, none of which is configured: set ${
            route.targets.some((t) => t.provider === "fal")
              ? "REPLICATE_API_TOKEN or FAL_KEY"
              : "REPLICATE_API_TOKEN"
          }`,
        };
      }
      if (isFalModel(model)) {
        if (fal) return { provider: fal };
        return {
          error:
            `Model ${model} needs the fal provider, which is not configured: set FAL_KEY (or use a local/... model)`,
        };
      }
      if (!model.includes("/")) {
        return {
          error:
            `Unknown model ${model}: use owner/name, fal:<endpoint>, local/<style> or an alias (${
              [...routes.keys()].join(", ")
            })`,
        };
      }
      if (model.startsWith("local/")) {
        if (isLocalModel(model)) return { provider: local };
        return {
          error: `Unknown local model ${model}; choose one of ${
            LOCAL_STYLES.map((s) => s.id).join(", ")
          }`,
        };
      }
      if (!replicate) {
        return {
          error:
            `Model ${model} needs the Replicate provider, which is not configured: set REPLICATE_API_TOKEN (or use a local/... model)`,
        };
      }
      return { provider: replicate };
    },
    byName(name) {
      return name === "local" || name === "replicate" || name === "fal" ? byKind(name) : undefined;
    },
    targets(model, parameters) {
      const route = routes.get(model);
      const specs = route ? route.targets : [{ model, provider: providerKindOf(model) }];
      return specs.flatMap((t) => {
        const provider = byKind(t.provider);
        if (!provider) return [];
        // Plain Replicate and local jobs are sent as written; fal and routed ones are mapped.
        const mapped = route || t.provider === "fal" ? mapParameters(parameters, t) : parameters;
        return [{ provider, model: t.model, parameters: mapped }];
      });
    },
    describe() {
      const models: ModelInfo[] = LOCAL_STYLES.map((s) => ({
        id: s.id,
        provider: "local",
        description: s.description,
      }));
      for (const route of routes.values()) {
        const targets = route.targets.map((t) => ({
          model: t.model,
          provider: t.provider,
          configured: byKind(t.provider) !== undefined,
        }));
        if (!targets.some((t) => t.configured)) continue;
        models.push({
          id: route.alias,
          provider: "route",
          description: route.description,
          targets,
        });
      }
      if (replicate) models.push(...SUGGESTED_REPLICATE_MODELS);
      if (fal) models.push(...SUGGESTED_FAL_MODELS);
      return {
        providers: [
          { name: "local", configured: true },
          replicate
            ? { name: "replicate", configured: true }
            : { name: "replicate", configured: false, hint: "set REPLICATE_API_TOKEN" },
          fal
            ? { name: "fal", configured: true }
            : { name: "fal", configured: false, hint: "set FAL_KEY" },
        ],
        models,
      };
    },
  };
}

/** The fal settings of the configuration (all optional: fal is off without FAL_KEY). */
export interface FalConfig {
  FAL_KEY?: string;
  FAL_QUEUE_URL?: string;
  FAL_OPENAPI_URL?: string;
  MODEL_ROUTES?: string;
  PROVIDER_CIRCUIT_FAILURES?: number;
  PROVIDER_CIRCUIT_COOLDOWN_S?: number;
}
