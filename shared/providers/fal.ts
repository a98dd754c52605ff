/**
 * The fal.ai provider, on fal's queue HTTP API (`queue.fal.run`), for models named
 * `fal:<endpoint id>` (e.g. `fal:fal-ai/flux/schnell`).
 *
 * Why not `@fal-ai/client` (1.10, read before deciding): its queue calls are built for
 * `https://queue.fal.run` with no base URL of their own (FAL_QUEUE_URL and the tests' fake could
 * only be reached through its proxy mode); `queue.submit` retries 429/502/503/504 by itself up to
 * three times with waits of up to a minute, and that per-call policy overrides the client's
 * configuration, so a create could be sent again without the worker knowing (a second bill if the
 * first one was accepted) and a route could not tell "never accepted" from "slow"; and it has no
 * request timeout. Here one call is one HTTP request with a deadline; the worker decides when to
 * try again and whether a route moves on.
 *
 * Calls:
 * - create: `POST {queue}/{endpoint}[?fal_webhook=…]` with `Authorization: Key …` answers
 *   `{request_id, status_url, response_url, cancel_url, queue_position}`; the request id is the
 *   prediction id the worker stores at once.
 * - get: `GET status_url?logs=1` (IN_QUEUE with `queue_position`, IN_PROGRESS with logs,
 *   COMPLETED, with `error` when it failed), then `GET response_url` for the result
 *   (`images: [{url, width, height, content_type}]`).
 * - cancel: `PUT cancel_url`.
 * The URLs fal returned are used while this process remembers them. After a restart only the
 * request id and the model are stored: the URLs are then made the way fal makes them, from the
 * endpoint's `owner/app` (fal drops the subpath: `fal-ai/flux/schnell` → `fal-ai/flux`). The key
 * is only ever sent to FAL_QUEUE_URL's origin.
 */
import { PredictionNotFoundError, ProviderError } from "../errors.ts";
import { createSafeFetch } from "../http/safe_fetch.ts";
import { openOutputUrl } from "./download.ts";
import { falEndpoint } from "./model_ref.ts";
import type {
  CallOptions,
  CreateOptions,
  Prediction,
  PredictionInput,
  PredictionStatus,
  Provider,
} from "./provider.ts";
import { errorForStatus, oneLineDetail, transportError } from "./transport.ts";

/** Settings of the fal provider. */
export interface FalProviderOptions {
  /** FAL_KEY; sent only to `queueUrl`'s origin, never logged nor put in an error. */
  key: string;
  /** Queue base URL (FAL_QUEUE_URL), e.g. `https://queue.fal.run`. */
  queueUrl: string;
  /** Limit for one HTTP request, body included (ms). */
  timeoutMs: number;
  fetch?: typeof fetch;
  /** Fetch for output downloads (URLs fal chose): an SSRF-safe one from the registry. */
  downloadFetch?: (url: string | URL, init?: RequestInit) => Promise<Response>;
  /** Where fal should POST when a request completes (`fal_webhook`); polling stays the fallback. */
  webhookUrl?: string;
  /** fal's per-endpoint OpenAPI documents (`?endpoint_id=`); no schemas when unset. */
  openapiUrl?: string;
  userAgent?: string;
}

/** fal request ids are UUIDs; anything else could walk the URL path. */
const REQUEST_ID = /^[A-Za-z0-9_-]{1,100}$/;
const REMEMBERED = 10_000;
const SCHEMA_TTL_MS = 10 * 60_000;

interface RequestUrls {
  status: string;
  response: string;
  cancel: string;
}

/** Creates the fal provider. */
export function createFalProvider(options: FalProviderOptions): Provider {
  const baseFetch = options.fetch ?? globalThis.fetch;
  const queue = options.queueUrl.replace(/\/+$/, "");
  const queueOrigin = new URL(queue).origin;
  const userAgent = options.userAgent ?? "darkroom";
  /** URLs fal returned for requests this process created (newest last). */
  const remembered = new Map<string, RequestUrls>();
  const schemas = new Map<string, { at: number; value: Record<string, unknown> | null }>();

  const remember = (id: string, urls: RequestUrls) => {
    remembered.set(id, urls);
    if (remembered.size > REMEMBERED) remembered.delete(remembered.keys().next().value!);
  };

  /** The URLs of a request: as fal returned them, else as fal makes them from the endpoint. */
  function urlsOf(id: string, model: string | undefined, action: string): RequestUrls {
    const known = remembered.get(id);
    if (known) return known;
    const endpoint = model ? falEndpoint(model) : null;
    if (!endpoint) {
      // Never a new create: the request may still be running (and billed) at fal.
      throw new ProviderError(`${action}: the request's fal endpoint is unknown`, false);
    }
    const app = endpoint.split("/").slice(0, 2).join("/");
    const base = `${queue}/${app}/requests/${encodeURIComponent(id)}`;
    return { status: `${base}/status`, response: base, cancel: `${base}/cancel` };
  }

  /** A URL fal returned, if it is on the queue's origin (the key goes nowhere else). */
  function onQueue(value: unknown): string | null {
    if (typeof value !== "string" || !URL.canParse(value)) return null;
    return new URL(value).origin === queueOrigin ? value : null;
  }

  /** One request to the queue API with the key and a deadline; non-2xx answers throw. */
  async function call(
    kind: "create" | "get" | "cancel" | "result",
    action: string,
    url: string,
    init: { method: string; body?: string; signal?: AbortSignal; subject: string },
  ): Promise<unknown> {
    const timeout = AbortSignal.timeout(options.timeoutMs);
    const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    let response: Response;
    let text: string;
    try {
      response = await baseFetch(url, {
        method: init.method,
        headers: {
          Authorization: `Key ${options.key}`,
          Accept: "application/json",
          "User-Agent": userAgent,
          ...(init.body !== undefined ? { "Content-Type": "application/json" } : {}),
        },
        body: init.body,
        signal,
      });
      text = await response.text();
    } catch (error) {
      throw transportError(action, error, signal, init.signal, options.timeoutMs);
    }
    if (!response.ok) throw statusError(kind, action, init.subject, response, text);
    try {
      return text === "" ? null : JSON.parse(text);
    } catch {
      throw new ProviderError(`${action}: the answer is not JSON`, true);
    }
  }

  const provider: Provider = {
    name: "fal",

    async create(input: PredictionInput, createOptions: CreateOptions = {}): Promise<Prediction> {
      const action = `Cannot create fal request for ${input.model}`;
      const endpoint = falEndpoint(input.model);
      if (!endpoint) {
        throw new ProviderError(
          `${action}: invalid model reference; use fal:owner/app[/path]`,
          false,
        );
      }
      const url = new URL(`${queue}/${endpoint}`);
      if (options.webhookUrl) url.searchParams.set("fal_webhook", options.webhookUrl);
      const body = JSON.stringify({
        prompt: input.prompt,
        ...(input.negative_prompt ? { negative_prompt: input.negative_prompt } : {}),
        ...input.parameters,
      });
      const raw = await call("create", action, url.href, {
        method: "POST",
        body,
        signal: createOptions.signal,
        subject: endpoint,
      });
      if (
        !isRecord(raw) || typeof raw.request_id !== "string" || !REQUEST_ID.test(raw.request_id)
      ) {
        throw new ProviderError(`${action}: unexpected answer without a request_id`, true);
      }
      const id = raw.request_id;
      const derived = urlsOf(id, input.model, action);
      remember(id, {
        status: onQueue(raw.status_url) ?? derived.status,
        response: onQueue(raw.response_url) ?? derived.response,
        cancel: onQueue(raw.cancel_url) ?? derived.cancel,
      });
      return {
        id,
        status: "starting",
        output: [],
        logs: "",
        error: null,
        ...(typeof raw.queue_position === "number" ? { queuePosition: raw.queue_position } : {}),
      };
    },

    async get(id: string, callOptions: CallOptions = {}): Promise<Prediction> {
      const action = `Cannot get fal request ${id}`;
      if (!REQUEST_ID.test(id)) throw new PredictionNotFoundError(id);
      const urls = urlsOf(id, callOptions.model, action);
      const statusUrl = new URL(urls.status);
      statusUrl.searchParams.set("logs", "1");
      const raw = await call("get", action, statusUrl.href, {
        method: "GET",
        signal: callOptions.signal,
        subject: id,
      });
      if (!isRecord(raw) || typeof raw.status !== "string") {
        throw new ProviderError(`${action}: unexpected answer without a status`, true);
      }
      const logs = logText(raw.logs);
      const runMs = isRecord(raw.metrics) && typeof raw.metrics.inference_time === "number"
        ? Math.round(raw.metrics.inference_time * 1000)
        : undefined;
      if (raw.status === "IN_QUEUE") {
        return {
          id,
          status: "starting",
          output: [],
          logs,
          error: null,
          ...(typeof raw.queue_position === "number" ? { queuePosition: raw.queue_position } : {}),
        };
      }
      if (raw.status !== "COMPLETED") {
        return { id, status: "processing", output: [], logs, error: null };
      }
      if (typeof raw.error === "string" && raw.error !== "") {
        const canceled = typeof raw.error_type === "string" && /cancel/i.test(raw.error_type);
        remembered.delete(id);
        const status: PredictionStatus = canceled ? "canceled" : "failed";
        return { id, status, output: [], logs, error: oneLineDetail(raw.error) };
      }
      return await result(id, urls, logs, runMs, callOptions.signal);
    },

    async cancel(id: string, callOptions: CallOptions = {}): Promise<void> {
      const action = `Cannot cancel fal request ${id}`;
      if (!REQUEST_ID.test(id)) throw new PredictionNotFoundError(id);
      const urls = urlsOf(id, callOptions.model, action);
      try {
        await call("cancel", action, urls.cancel, {
          method: "PUT",
          signal: callOptions.signal,
          subject: id,
        });
      } catch (err) {
        // Finished already: nothing left to stop.
        if (err instanceof ProviderError && err.status === 400) return;
        throw err;
      }
    },

    openOutput(ref: string, callOptions: CallOptions = {}): Promise<Response> {
      return openOutputUrl(ref, {
        fetch: options.downloadFetch ?? baseFetch,
        timeoutMs: options.timeoutMs,
        userAgent,
        signal: callOptions.signal,
        expiryHint: "fal keeps request outputs for a limited time",
      });
    },

    async inputSchema(model: string, callOptions: CallOptions = {}) {
      const endpoint = falEndpoint(model);
      if (!endpoint || !options.openapiUrl) return null;
      const hit = schemas.get(endpoint);
      if (hit && Date.now() - hit.at < SCHEMA_TTL_MS) return hit.value;
      const url = new URL(options.openapiUrl);
      url.searchParams.set("endpoint_id", endpoint);
      const timeout = AbortSignal.timeout(options.timeoutMs);
      const signal = callOptions.signal ? AbortSignal.any([callOptions.signal, timeout]) : timeout;
      let value: Record<string, unknown> | null = null;
      try {
        // Public documents: no key.
        const res = await baseFetch(url, { signal, headers: { "User-Agent": userAgent } });
        if (res.ok) value = inputSchemaOf(await res.json(), endpoint);
        else await res.body?.cancel();
      } catch {
        // No schema: parameters pass through unvalidated.
        value = null;
      }
      schemas.set(endpoint, { at: Date.now(), value });
      if (schemas.size > 1000) schemas.delete(schemas.keys().next().value!);
      return value;
    },
  };

  /** Reads a completed request's result: its images are the outputs. */
  async function result(
    id: string,
    urls: RequestUrls,
    logs: string,
    runMs: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Prediction> {
    const action = `Cannot get the result of fal request ${id}`;
    let raw: unknown;
    try {
      raw = await call("result", action, urls.response, { method: "GET", signal, subject: id });
    } catch (err) {
      // The request itself failed (an input fal refused, the model's own error): final.
      if (
        err instanceof ProviderError && !err.retryable && !(err instanceof PredictionNotFoundError)
      ) {
        remembered.delete(id);
        return { id, status: "failed", output: [], logs, error: err.message };
      }
      throw err;
    }
    remembered.delete(id);
    const images = isRecord(raw) && Array.isArray(raw.images) ? raw.images : [];
    const output = images
      .map((image) => (isRecord(image) ? image.url : null))
      .filter((url): url is string => typeof url === "string" && /^https?:\/\//i.test(url));
    return {
      id,
      status: "succeeded",
      output,
      logs,
      error: null,
      ...(runMs !== undefined ? { runMs } : {}),
    };
  }

  return provider;
}

/** The fal provider from the configuration (FAL_KEY set), downloads SSRF-safe. */
export function falFromConfig(
  config: {
    FAL_KEY?: string;
    FAL_QUEUE_URL?: string;
    FAL_OPENAPI_URL?: string;
    PROVIDER_TIMEOUT_MS: number;
    ALLOW_PRIVATE_DOWNLOADS?: boolean;
    PUBLIC_BASE_URL?: string;
    API_V1_PREFIX?: string;
  },
): Provider {
  const queueUrl = config.FAL_QUEUE_URL ?? "https://queue.fal.run";
  return createFalProvider({
    key: config.FAL_KEY!,
    queueUrl,
    timeoutMs: config.PROVIDER_TIMEOUT_MS,
    openapiUrl: config.FAL_OPENAPI_URL,
    webhookUrl: config.PUBLIC_BASE_URL
      ? `${config.PUBLIC_BASE_URL}${config.API_V1_PREFIX ?? "/api/v1"}/webhooks/fal`
      : undefined,
    // Outputs come from URLs fal chose (fal.media): https only, never a private address (except
    // the queue's own host, so a local fake works).
    downloadFetch: createSafeFetch({
      allowHosts: [new URL(queueUrl).host],
      allowPrivate: config.ALLOW_PRIVATE_DOWNLOADS ?? false,
      timeoutMs: config.PROVIDER_TIMEOUT_MS,
    }),
  });
}

/** Maps a non-2xx answer of the queue API to the error the provider throws. */
function statusError(
  kind: "create" | "get" | "cancel" | "result",
  action: string,
  subject: string,
  response: Response,
  text: string,
): ProviderError {
  const status = response.status;
  const detail = detailOf(text) || response.statusText || "no detail";
  const message = `${action}: status ${status}: ${detail}`;
  if (status === 401 || status === 403) {
    return new ProviderError(
      `${action}: status ${status}: fal refused the key; check FAL_KEY`,
      false,
      undefined,
      status,
    );
  }
  if (status === 404) {
    if (kind === "get" || kind === "cancel") return new PredictionNotFoundError(subject);
    if (kind === "create") {
      return new ProviderError(
        `${action}: status 404: Unknown fal endpoint ${subject}`,
        false,
        undefined,
        404,
      );
    }
  }
  return errorForStatus(message, status, response.headers);
}

/** fal's `detail` (a string, or FastAPI's list of `{loc, msg}`), else the start of the body. */
function detailOf(text: string): string {
  let detail = text;
  try {
    const parsed: unknown = JSON.parse(text);
    if (isRecord(parsed)) {
      if (typeof parsed.detail === "string") detail = parsed.detail;
      else if (Array.isArray(parsed.detail)) {
        detail = parsed.detail.map((d) =>
          isRecord(d)
            ? `${Array.isArray(d.loc) ? d.loc.join(".") : "input"}: ${String(d.msg ?? "invalid")}`
            : String(d)
        ).join("; ");
      } else if (typeof parsed.status === "string") detail = parsed.status;
    }
  } catch {
    // Not JSON: keep the text.
  }
  return oneLineDetail(detail);
}

/** fal's logs (`[{message, level, timestamp}]`) as text, one message a line. */
function logText(logs: unknown): string {
  if (!Array.isArray(logs)) return "";
  return logs.map((l) => (isRecord(l) && typeof l.message === "string" ? l.message : ""))
    .filter(Boolean).join("\n");
}

/**
 * The input schema in a fal OpenAPI document: the request body of `POST /{endpoint}`, with the
 * document's component schemas beside it so its `#/components/schemas/…` references resolve.
 */
export function inputSchemaOf(doc: unknown, endpoint: string): Record<string, unknown> | null {
  if (!isRecord(doc) || !isRecord(doc.paths)) return null;
  const post = (doc.paths as Record<string, unknown>)[`/${endpoint}`];
  const body = isRecord(post) && isRecord(post.post) ? post.post.requestBody : null;
  const content = isRecord(body) && isRecord(body.content)
    ? body.content["application/json"]
    : null;
  let schema = isRecord(content) && isRecord(content.schema) ? content.schema : null;
  const components = isRecord(doc.components) && isRecord(doc.components.schemas)
    ? doc.components.schemas as Record<string, unknown>
    : {};
  const ref = schema && typeof schema.$ref === "string"
    ? schema.$ref.match(/^#\/components\/schemas\/(.+)$/)
    : null;
  if (ref) {
    schema = isRecord(components[ref[1]]) ? components[ref[1]] as Record<string, unknown> : null;
  }
  if (!schema) return null;
  return { ...schema, components: { schemas: components } };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
