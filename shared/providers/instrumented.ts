/** Wraps providers so every call is counted by outcome in the metrics. */
import { PredictionNotFoundError, ProviderError } from "../errors.ts";
import type { Metrics } from "../metrics.ts";
import { CircuitOpenError } from "./circuit.ts";
import type { Provider } from "./provider.ts";
import { ProviderUnreachableError } from "./unreachable.ts";
import type { ProviderRegistry } from "./registry.ts";

function outcome(err: unknown): string {
  if (err instanceof PredictionNotFoundError) return "not_found";
  if (err instanceof CircuitOpenError) return "circuit_open";
  if (err instanceof ProviderUnreachableError) return "unreachable";
  if (err instanceof ProviderError) {
    if (err.status === 429) return "rate_limited";
    if (err.status !== undefined && err.status >= 500) return "server_error";
    return err.retryable ? "retryable" : "rejected";
  }
  if (err instanceof DOMException && err.name === "TimeoutError") return "timeout";
  return "network";
}

/** Counts each call of `provider` in `metrics.providerCalls`. */
export function instrumentProvider(provider: Provider, metrics: Metrics): Provider {
  const count = async <T>(operation: string, call: () => Promise<T>): Promise<T> => {
    try {
      const result = await call();
      metrics.providerCalls.inc({ provider: provider.name, operation, outcome: "ok" });
      return result;
    } catch (err) {
      metrics.providerCalls.inc({ provider: provider.name, operation, outcome: outcome(err) });
      throw err;
    }
  };
  const counted: Provider = {
    name: provider.name,
    ...(provider.progressPollMs !== undefined ? { progressPollMs: provider.progressPollMs } : {}),
    create: (input, options) => count("create", () => provider.create(input, options)),
    get: (id, options) => count("get", () => provider.get(id, options)),
    cancel: (id, options) => count("cancel", () => provider.cancel(id, options)),
    openOutput: (ref, options) => count("download", () => provider.openOutput(ref, options)),
    ...(provider.findCreated
      ? {
        findCreated: (input, sinceMs, options) =>
          count("list", () => provider.findCreated!(input, sinceMs, options)),
      }
      : {}),
  };
  if (provider.inputSchema) counted.inputSchema = provider.inputSchema.bind(provider);
  return counted;
}

/** A registry whose providers are instrumented. */
export function instrumentRegistry(registry: ProviderRegistry, metrics: Metrics): ProviderRegistry {
  const cache = new Map<string, Provider>();
  const wrap = (p: Provider) => {
    let w = cache.get(p.name);
    if (!w) cache.set(p.name, w = instrumentProvider(p, metrics));
    return w;
  };
  return {
    resolve(model) {
      const r = registry.resolve(model);
      return "provider" in r ? { ...r, provider: wrap(r.provider) } : r;
    },
    byName(name) {
      const p = registry.byName(name);
      return p ? wrap(p) : undefined;
    },
    targets: registry.targets &&
      ((model, parameters) =>
        registry.targets!(model, parameters).map((t) => ({ ...t, provider: wrap(t.provider) }))),
    circuits: registry.circuits,
    describe: () => registry.describe(),
  };
}
