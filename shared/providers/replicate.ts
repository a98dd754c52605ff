/**
 * The Replicate provider, on the official npm:replicate client.
 *
 * The client (1.4.0) retries 429 and 5xx answers, and any error its fetch throws, up to five times
 * back to back with no delay, and it has no timeout. So this provider owns the policy: each call
 * gets its own client whose fetch adds a timeout, turns every non-2xx answer into a ProviderError
 * and throws that same error again, without a new request, when the client tries again. One call
 * is one HTTP request; the caller (the worker) decides when to try again, with `retryAfterMs`.
 */
import Replicate from "replicate";
import { PredictionNotFoundError, ProviderError } from "../errors.ts";
import { canonicalJson } from "../jobs/schemas.ts";
import type {
  CallOptions,
  CreateOptions,
  Prediction,
  PredictionInput,
  PredictionStatus,
  Provider,
} from "./provider.ts";
import { openOutputUrl } from "./download.ts";
import { errorForStatus, oneLineDetail, retryAfterHeaderMs, transportError } from "./transport.ts";

/** Settings of the Replicate provider. */
export interface ReplicateProviderOptions {
  /** API token; sent only to `baseUrl`, never logged nor put in an error. */
  token: string;
  /** API base URL, e.g. `https://api.replicate.com/v1`. */
  baseUrl: string;
  /** Limit for one HTTP request, body included (ms). */
  timeoutMs: number;
  fetch?: typeof fetch;
  /**
   * Fetch used for output downloads (URLs the provider chose): the registry passes an SSRF-safe
   * one (shared/safe_fetch.ts). Defaults to `fetch`.
   */
  downloadFetch?: (url: string | URL, init?: RequestInit) => Promise<Response>;
  userAgent?: string;
  /**
   * Where Replicate should push updates (PUBLIC_BASE_URL + /api/v1/webhooks/replicate); polling
   * stays as the slow fallback.
   */
  webhookUrl?: string;
  /**
   * Seconds Replicate may hold a create call open until the prediction ends (`Prefer: wait=N`,
   * 1–60): a prediction done by then answers in the create call and needs no GET. 0 or unset: off.
   * The create call's timeout grows by as much.
   */
  preferWaitS?: number;
}

/** What one provider call is doing, to word its errors and shape its requests. */
interface Call {
  kind: "create" | "get" | "cancel";
  /** Start of every error message, e.g. `Cannot get prediction abc`. */
  action: string;
  /** The model (create) or prediction id (get, cancel). */
  subject: string;
  signal?: AbortSignal;
  headers?: Record<string, string>;
  /** This call's own timeout (ms), when longer than `timeoutMs` (a held create). */
  timeoutMs?: number;
}

type FetchInput = Request | string | URL;

const STATUSES: readonly PredictionStatus[] = [
  "starting",
  "processing",
  "succeeded",
  "failed",
  "canceled",
  "aborted",
];
const MODEL_REF = /^([A-Za-z0-9][\w.-]*)\/([A-Za-z0-9][\w.-]*)(?::([A-Za-z0-9]+))?$/;
/** Replicate ids are lower-case base32; anything else could walk the URL path (`..`). */
const PREDICTION_ID = /^[A-Za-z0-9_-]{1,100}$/;
/** Pages of the prediction list read when looking for a prediction whose create answer was lost. */
const FIND_PAGES = 5;

/** Creates the Replicate provider (`owner/name` or `owner/name:version` models). */
export function createReplicateProvider(options: ReplicateProviderOptions): Provider {
  const baseFetch = options.fetch ?? globalThis.fetch;
  const userAgent = options.userAgent ?? "darkroom";
  const webhook = options.webhookUrl
    ? {
      webhook: options.webhookUrl,
      webhook_events_filter: ["start", "output", "logs", "completed"] as (
        "start" | "output" | "logs" | "completed"
      )[],
    }
    : {};

  const waitS = Math.min(60, Math.max(0, Math.floor(options.preferWaitS ?? 0)));

  function signalFor(caller: AbortSignal | undefined, timeoutMs = options.timeoutMs): AbortSignal {
    const timeout = AbortSignal.timeout(timeoutMs);
    return caller ? AbortSignal.any([caller, timeout]) : timeout;
  }

  /** A client for one call: its fetch makes at most one request and owns timeouts and errors. */
  function clientFor(call: Call): Replicate {
    let failure: ProviderError | null = null;
    async function guardedFetch(input: FetchInput, init: RequestInit = {}): Promise<Response> {
      // The client calls again after an error or a 429/5xx: answer with the first outcome.
      if (failure) throw failure;
      const headers = new Headers(init.headers);
      for (const [name, value] of Object.entries(call.headers ?? {})) headers.set(name, value);
      const timeoutMs = call.timeoutMs ?? options.timeoutMs;
      const signal = signalFor(call.signal, timeoutMs);
      let response: Response;
      try {
        response = await baseFetch(input, { ...init, headers, signal });
      } catch (error) {
        failure = transportError(call.action, error, signal, call.signal, timeoutMs);
        throw failure;
      }
      if (!response.ok) {
        failure = await statusError(call, response);
        throw failure;
      }
      return response;
    }
    return new Replicate({
      auth: options.token,
      baseUrl: options.baseUrl,
      userAgent,
      useFileOutput: false,
      fetch: guardedFetch,
    });
  }

  /** Runs one client call; anything that is not already a ProviderError becomes one. */
  async function run<T>(call: Call, body: (client: Replicate) => Promise<T>): Promise<T> {
    try {
      return await body(clientFor(call));
    } catch (error) {
      if (error instanceof ProviderError) throw error;
      // Errors after the answer arrived: a body cut by the timeout or the network, bad JSON.
      throw transportError(
        call.action,
        error,
        undefined,
        call.signal,
        call.timeoutMs ?? options.timeoutMs,
      );
    }
  }

  return {
    name: "replicate",

    async create(input: PredictionInput, createOptions: CreateOptions = {}): Promise<Prediction> {
      const action = `Cannot create prediction for ${input.model}`;
      const ref = input.model.match(MODEL_REF);
      if (!ref) {
        throw new ProviderError(
          `${action}: invalid model reference; use owner/name or owner/name:version`,
          false,
        );
      }
      const [, owner, name, version] = ref;
      const model = `${owner}/${name}`;
      const headers: Record<string, string> = {};
      const deadline = createOptions.deadlineS;
      if (deadline !== undefined && Number.isFinite(deadline) && deadline > 0) {
        headers["Cancel-After"] = `${Math.max(1, Math.ceil(deadline))}s`;
      }
      const body = inputBody(input);
      const call: Call = {
        kind: "create",
        action,
        subject: model,
        signal: createOptions.signal,
        headers,
        // Replicate holds the answer up to waitS: the call may take that much longer.
        timeoutMs: options.timeoutMs + waitS * 1000,
      };
      // `wait` makes the client send `Prefer: wait=N`.
      const wait = waitS > 0 ? { wait: waitS } : {};
      const raw = await run(
        call,
        (client) =>
          version
            ? client.predictions.create({ version, input: body, ...webhook, ...wait })
            : client.predictions.create({ model, input: body, ...webhook, ...wait }),
      );
      return toPrediction(raw, action);
    },

    async findCreated(
      input: PredictionInput,
      sinceMs: number,
      callOptions: CallOptions = {},
    ): Promise<Prediction[]> {
      const action = `Cannot list predictions of ${input.model}`;
      const ref = input.model.match(MODEL_REF);
      if (!ref) return [];
      const [, owner, name, version] = ref;
      const wanted = inputBody(input);
      const found: Prediction[] = [];
      let page: string | null = null;
      for (let n = 0; n < FIND_PAGES; n++) {
        const call: Call = { kind: "get", action, subject: "list", signal: callOptions.signal };
        const raw: unknown = await run(call, async (client) => {
          if (page === null) return await client.predictions.list();
          return await (await client.request(page, { method: "GET" })).json();
        });
        const results = isRecord(raw) && Array.isArray(raw.results) ? raw.results : [];
        let older = false;
        for (const item of results) {
          const p = toPrediction(item, action);
          if (p.createdAt !== undefined && p.createdAt < sinceMs) {
            older = true;
            continue;
          }
          const sameModel = p.model === `${owner}/${name}` &&
            (!version || (isRecord(item) && item.version === version));
          if (sameModel && p.input && sameInput(wanted, p.input)) found.push(p);
        }
        page = isRecord(raw) && typeof raw.next === "string" ? raw.next : null;
        if (older || page === null) break;
      }
      return found;
    },

    async get(id: string, callOptions: CallOptions = {}): Promise<Prediction> {
      const action = `Cannot get prediction ${id}`;
      if (!PREDICTION_ID.test(id)) throw new PredictionNotFoundError(id);
      const call: Call = { kind: "get", action, subject: id, signal: callOptions.signal };
      const raw = await run(call, (client) => client.predictions.get(id));
      return toPrediction(raw, action);
    },

    async cancel(id: string, callOptions: CallOptions = {}): Promise<void> {
      const action = `Cannot cancel prediction ${id}`;
      if (!PREDICTION_ID.test(id)) throw new PredictionNotFoundError(id);
      const call: Call = { kind: "cancel", action, subject: id, signal: callOptions.signal };
      await run(call, (client) => client.predictions.cancel(id));
    },

    openOutput(ref: string, callOptions: CallOptions = {}): Promise<Response> {
      // No Authorization header: output URLs are public, and the token must not leave baseUrl.
      return openOutputUrl(ref, {
        fetch: options.downloadFetch ?? baseFetch,
        timeoutMs: options.timeoutMs,
        userAgent,
        signal: callOptions.signal,
        expiryHint: "Replicate deletes outputs after an hour",
      });
    },
  };
}

/** The `input` of a create: the prompt, the negative prompt when given, then the parameters. */
function inputBody(input: PredictionInput): Record<string, unknown> {
  return {
    prompt: input.prompt,
    ...(input.negative_prompt ? { negative_prompt: input.negative_prompt } : {}),
    ...input.parameters,
  };
}

/** True when every field sent is in `stored` with the same JSON value. */
function sameInput(sent: Record<string, unknown>, stored: Record<string, unknown>): boolean {
  return Object.entries(sent).every(([k, v]) => canonicalJson(v) === canonicalJson(stored[k]));
}

/** Maps a non-2xx API answer to the error the provider throws. */
async function statusError(call: Call, response: Response): Promise<ProviderError> {
  const status = response.status;
  let text = "";
  try {
    text = await response.text();
  } catch {
    // The body is only used to word the message.
  }
  const detail = detailOf(text) || response.statusText || "no detail";
  const message = `${call.action}: status ${status}: ${detail}`;

  if (status === 401 || status === 403) {
    return new ProviderError(
      `${call.action}: status ${status}: Replicate refused the API token; check REPLICATE_API_TOKEN`,
      false,
      undefined,
      status,
    );
  }
  if (status === 404) {
    if (call.kind !== "create") return new PredictionNotFoundError(call.subject);
    return new ProviderError(
      `${call.action}: status 404: Unknown model ${call.subject}`,
      false,
      undefined,
      status,
    );
  }
  if (status === 429) {
    const hint = text.match(/resets in ~?\s*(\d+(?:\.\d+)?)\s*s/i);
    const fromHint = hint ? Math.ceil(Number(hint[1]) * 1000) : undefined;
    const fromHeader = retryAfterHeaderMs(response.headers.get("retry-after"));
    const retryAfterMs = fromHint === undefined && fromHeader === undefined
      ? undefined
      : Math.max(fromHint ?? 0, fromHeader ?? 0);
    return errorForStatus(message, status, response.headers, retryAfterMs);
  }
  // 5xx and 408 retry; 400, 402 (no credit), 409, 422 (input validation) ...: the same request
  // will fail again.
  return errorForStatus(message, status, response.headers);
}

/** Replicate's `detail` (or `title`), else the start of the body, on one line. */
function detailOf(text: string): string {
  let detail = text;
  try {
    const parsed: unknown = JSON.parse(text);
    if (isRecord(parsed)) {
      if (typeof parsed.detail === "string") detail = parsed.detail;
      else if (typeof parsed.title === "string") detail = parsed.title;
    }
  } catch {
    // Not JSON (a proxy's HTML page...): keep the text.
  }
  return oneLineDetail(detail);
}

/** Replicate's prediction JSON → the provider-neutral Prediction. */
function toPrediction(raw: unknown, action: string): Prediction {
  if (!isRecord(raw) || typeof raw.id !== "string" || typeof raw.status !== "string") {
    throw new ProviderError(`${action}: unexpected answer without id or status`, true);
  }
  const status = (STATUSES as readonly string[]).includes(raw.status)
    ? raw.status as PredictionStatus
    : "processing";
  const error = raw.error === null || raw.error === undefined
    ? null
    : typeof raw.error === "string"
    ? raw.error
    : JSON.stringify(raw.error);
  const createdAt = Date.parse(String(raw.created_at));
  const runMs = Date.parse(String(raw.completed_at)) - createdAt;
  const predictTime = isRecord(raw.metrics) ? raw.metrics.predict_time : undefined;
  return {
    id: raw.id,
    status,
    output: outputUrls(raw.output),
    logs: typeof raw.logs === "string" ? raw.logs : "",
    error,
    ...(runMs >= 0 ? { runMs } : {}),
    ...(typeof predictTime === "number" && Number.isFinite(predictTime) && predictTime >= 0
      ? { predictTimeS: predictTime }
      : {}),
    ...(typeof raw.model === "string" ? { model: raw.model } : {}),
    ...(isRecord(raw.input) ? { input: raw.input } : {}),
    ...(Number.isFinite(createdAt) ? { createdAt } : {}),
  };
}

/** `output` may be a URL, a list of URLs or null; other values (text, data URIs) are dropped. */
function outputUrls(output: unknown): string[] {
  const values = Array.isArray(output) ? output : output === null ? [] : [output];
  return values.filter((v): v is string => typeof v === "string" && /^https?:\/\//i.test(v));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
