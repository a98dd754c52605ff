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

export interface ModelInfo {
  id: string;
  provider: string;
  description: string;
}

/** A provider as the API describes it: configured or not, and what to set when not. */
export interface ProviderStatus {
  name: string;
  configured: boolean;
  hint?: string;
}

export interface ProviderRegistry {
  /** The provider for a model, or a message saying what to configure. */
  resolve(model: string): { provider: Provider } | { error: string };
  /** Provider by name (the worker resumes a job with the provider stored on it). */
  byName(name: string): Provider | undefined;
  /** Configured providers and suggested models (what the UI may offer). */
  describe(): {
    providers: ProviderStatus[];
    models: ModelInfo[];
  };
}

/** Suggested Replicate models (any `owner/name[:version]` works when a token is set). */
export const SUGGESTED_REPLICATE_MODELS: readonly ModelInfo[] = [
  {
    id: "black-forest-labs/flux-schnell",
    provider: "replicate",
    description: "FLUX.1 [schnell]: fast, 1–4 steps",
  },
  {
    id: "black-forest-labs/flux-dev",
    provider: "replicate",
    description: "FLUX.1 [dev]: high quality, slower",
  },
  {
    id: "black-forest-labs/flux-1.1-pro",
    provider: "replicate",
    description: "FLUX1.1 [pro]: best quality",
  },
  {
    id: "stability-ai/stable-diffusion-3.5-large",
    provider: "replicate",
    description: "Stable Diffusion 3.5 Large",
  },
];

export interface RegistryOptions {
  local?: Provider;
  replicate?: Provider;
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
    },
  options: RegistryOptions = {},
): ProviderRegistry {
  const local = options.local ??
    createLocalProvider({ stepMs: config.LOCAL_STEP_MS, render: options.render });
  const replicate = options.replicate ??
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
      : undefined);
  return {
    resolve(model) {
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
      return name === "local" ? local : name === "replicate" ? replicate : undefined;
    },
    describe() {
      const models: ModelInfo[] = LOCAL_STYLES.map((s) => ({
        id: s.id,
        provider: "local",
        description: s.description,
      }));
      if (replicate) models.push(...SUGGESTED_REPLICATE_MODELS);
      return {
        providers: [
          { name: "local", configured: true },
          replicate
            ? { name: "replicate", configured: true }
            : { name: "replicate", configured: false, hint: "set REPLICATE_API_TOKEN" },
        ],
        models,
      };
    },
  };
}
