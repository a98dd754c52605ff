/**
 * A fake Replicate HTTP API for tests: a real server on 127.0.0.1 that answers with Replicate's
 * JSON shapes, runs predictions on a clock (starting → processing → succeeded / failed /
 * canceled / aborted), writes tqdm progress to the logs, serves its outputs as real PNG files,
 * and can be told to fail in the ways the real service does.
 *
 * A prediction's state is computed from the clock when it is read, so no timer runs between
 * requests and `close()` leaves nothing behind.
 */
import { encode } from "fast-png";
import {
  defaultFakeModel,
  type FakeModel,
  modelJson,
  versionJson,
} from "./fake_replicate_models.ts";

export type { FakeModel, FakeModelVersion } from "./fake_replicate_models.ts";

/** One request the fake received, as it arrived. */
export interface RecordedRequest {
  method: string;
  /** Path and query, e.g. `/v1/predictions/abc`. */
  path: string;
  /** Header names in lower case. */
  headers: Record<string, string>;
  /** Parsed JSON body, the raw text when it was not JSON, or null without a body. */
  body: unknown;
}

/** Replicate's prediction JSON, as the fake answers it. */
export interface PredictionJson {
  id: string;
  model: string;
  version: string;
  input: Record<string, unknown>;
  logs: string;
  output: string[] | string | null;
  error: string | null;
  status: "starting" | "processing" | "succeeded" | "failed" | "canceled" | "aborted";
  source: "api";
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  data_removed: boolean;
  deadline?: string;
  webhook?: string;
  webhook_events_filter?: string[];
  metrics: { predict_time?: number; total_time?: number };
  urls: { get: string; cancel: string; stream: string };
}

/** A prediction held by the fake; `json()` is what `GET /v1/predictions/{id}` answers now. */
export interface FakePrediction {
  readonly id: string;
  readonly model: string;
  readonly version: string;
  readonly input: Record<string, unknown>;
  readonly createdAt: number;
  /** The `Cancel-After` deadline (epoch ms), if the create request set one. */
  readonly deadlineAt: number | null;
  /** When `POST .../cancel` was received (epoch ms). */
  canceledAt: number | null;
  json(): PredictionJson;
}

/** Knobs of the fake; all of them can also be changed on the returned object while it runs. */
export interface FakeReplicateOptions {
  /** The accepted API token (a random `r8_...` one by default). */
  token?: string;
  /** Time from creation to completion of a prediction (ms). */
  latencyMs?: number;
  /** Time a prediction stays `starting` before it runs (ms); 10% of latencyMs by default. */
  startDelayMs?: number | null;
  /** Denoising steps shown in the logs when the input has no `num_inference_steps`. */
  steps?: number;
  /** When set, new predictions end `failed` with this error (e.g. "CUDA out of memory"). */
  failPrediction?: string | null;
  /** When set, output files answer this status (404 or 410 for expired files, 5xx...). */
  outputStatus?: number | null;
  /** Delay before an output file is served (ms). */
  slowOutputMs?: number;
  /** Delay before any `/v1` request is answered (ms), to exercise client timeouts. */
  apiDelayMs?: number;
  /** Output files announce their full length and stop half way. */
  truncateOutput?: boolean;
  /** Output files are an HTML page with status 200. */
  nonImageOutput?: boolean;
  /** Succeeded predictions report their first output as a single string instead of an array. */
  outputAsString?: boolean;
  /** The `~Ns` in 429 bodies. */
  rateLimitResetS?: number;
  /** Models (`owner/name`) and version ids that do not exist. */
  modelNotFound?: Iterable<string>;
  /** Version id → `owner/name`, for predictions created by version id. */
  versions?: Record<string, string>;
  /**
   * Models served by `GET /v1/models/{owner}/{name}[/versions/{id}]`; any other model (not in
   * `modelNotFound`) gets a default one with an allOf/$ref schema (fake_replicate_models.ts).
   */
  models?: Record<string, FakeModel>;
}

/** An injected failure for the next create or get calls. */
export interface InjectedFailure {
  status: number;
  /** Value of a `Retry-After` header to send with it. */
  retryAfter?: string;
}

/** A running fake; stop it with `close()`. */
export interface FakeReplicate {
  /** Base URL of the API, ending in `/v1` (what the Replicate client takes as `baseUrl`). */
  readonly url: string;
  /** `http://127.0.0.1:port`; output files are served under `/files/`. */
  readonly origin: string;
  readonly token: string;
  readonly requests: RecordedRequest[];
  readonly predictions: Map<string, FakePrediction>;
  /** Predictions created so far (failed create calls do not count). */
  readonly createdCount: number;
  latencyMs: number;
  startDelayMs: number | null;
  steps: number;
  failPrediction: string | null;
  outputStatus: number | null;
  slowOutputMs: number;
  apiDelayMs: number;
  truncateOutput: boolean;
  nonImageOutput: boolean;
  outputAsString: boolean;
  rateLimitResetS: number;
  readonly modelNotFound: Set<string>;
  readonly versions: Map<string, string>;
  /** Registered models (`owner/name`); push a version to publish a new latest one. */
  readonly models: Map<string, FakeModel>;
  /** The next `n` `GET /v1/models/...` calls answer `status` (500 by default). */
  failNextModelGets(n: number, status?: number): void;
  /** The next `n` create calls answer `status` (500 by default; 429 with the throttle body). */
  failNextCreates(n: number, status?: number, options?: { retryAfter?: string }): void;
  /** The next `n` `GET /v1/predictions/{id}` calls answer `status` (500 by default). */
  failNextGets(n: number, status?: number, options?: { retryAfter?: string }): void;
  /** Requests whose method and path (without query) match. */
  requestsTo(method: string, path: string | RegExp): RecordedRequest[];
  /** Stops the server, ends pending delays and waits until it has finished. */
  close(): Promise<void>;
  /** Same as `close()`, for `await using fake = await startFakeReplicate()`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** How a prediction will run, fixed from the knobs when it is created. */
interface Timeline {
  runAt: number;
  naturalEnd: number;
  failure: string | null;
  steps: number;
  outputs: number;
  outputAsString: boolean;
  seed: number;
}

interface InternalPrediction extends FakePrediction {
  readonly timeline: Timeline;
}

const VERSION_ID = /^[0-9a-f]{64}$/;
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/;
const DEFAULT_VERSION_MODEL = "fake/versioned-model";
const MAX_SIDE = 2048;
const MAX_OUTPUTS = 4;
/** Predictions per page of `GET /v1/predictions` (Replicate pages by 100). */
const LIST_PAGE = 100;

/** Starts a fake Replicate API on a free port of 127.0.0.1. */
export async function startFakeReplicate(
  options: FakeReplicateOptions = {},
): Promise<FakeReplicate> {
  const closing = new AbortController();
  const createFailures: InjectedFailure[] = [];
  const getFailures: InjectedFailure[] = [];
  const modelFailures: InjectedFailure[] = [];
  const files = new Map<string, Uint8Array<ArrayBuffer>>();
  let created = 0;
  let origin = "";

  const predictions = new Map<string, InternalPrediction>();
  const fake: FakeReplicate = {
    get url() {
      return `${origin}/v1`;
    },
    get origin() {
      return origin;
    },
    token: options.token ?? `r8_fake_${randomId(24)}`,
    requests: [],
    predictions,
    get createdCount() {
      return created;
    },
    latencyMs: options.latencyMs ?? 300,
    startDelayMs: options.startDelayMs ?? null,
    steps: options.steps ?? 20,
    failPrediction: options.failPrediction ?? null,
    outputStatus: options.outputStatus ?? null,
    slowOutputMs: options.slowOutputMs ?? 0,
    apiDelayMs: options.apiDelayMs ?? 0,
    truncateOutput: options.truncateOutput ?? false,
    nonImageOutput: options.nonImageOutput ?? false,
    outputAsString: options.outputAsString ?? false,
    rateLimitResetS: options.rateLimitResetS ?? 30,
    modelNotFound: new Set(options.modelNotFound ?? []),
    versions: new Map(Object.entries(options.versions ?? {})),
    models: new Map(Object.entries(options.models ?? {})),
    failNextModelGets(n, status = 500) {
      for (let i = 0; i < n; i++) modelFailures.push({ status });
    },
    failNextCreates(n, status = 500, extra = {}) {
      for (let i = 0; i < n; i++) createFailures.push({ status, ...extra });
    },
    failNextGets(n, status = 500, extra = {}) {
      for (let i = 0; i < n; i++) getFailures.push({ status, ...extra });
    },
    requestsTo(method, path) {
      return fake.requests.filter((r) => {
        const bare = r.path.split("?")[0];
        return r.method === method && (typeof path === "string" ? bare === path : path.test(bare));
      });
    },
    async close() {
      if (!closing.signal.aborted) {
        closing.abort();
        await server.shutdown();
      }
      await server.finished;
    },
    [Symbol.asyncDispose]() {
      return fake.close();
    },
  };

  async function handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const text = req.method === "GET" || req.method === "HEAD" ? "" : await req.text();
    const body = parseBody(text);
    fake.requests.push({
      method: req.method,
      path: url.pathname + url.search,
      headers: Object.fromEntries(req.headers),
      body,
    });
    // Delays end early only on close(): `req.signal` also aborts after every successful answer.
    const signal = closing.signal;

    if (url.pathname.startsWith("/files/")) return await serveFile(url.pathname, signal);
    if (!url.pathname.startsWith("/v1/")) return notFound();

    if (fake.apiDelayMs > 0) await sleep(fake.apiDelayMs, signal);
    if (req.headers.get("authorization") !== `Bearer ${fake.token}`) {
      return json(401, {
        title: "Unauthenticated",
        detail: "You did not pass a valid authentication token",
        status: 401,
      });
    }

    const path = url.pathname.slice("/v1".length).replace(/\/+$/, "");
    let m: RegExpMatchArray | null;
    if (path === "/predictions") {
      if (req.method === "GET") return list(url);
      if (req.method !== "POST") return methodNotAllowed(req.method);
      return await create(req, body, null, signal);
    }
    if ((m = path.match(/^\/models\/([^/]+)\/([^/]+)\/predictions$/))) {
      if (req.method !== "POST") return methodNotAllowed(req.method);
      return await create(req, body, `${m[1]}/${m[2]}`, signal);
    }
    if ((m = path.match(/^\/models\/([^/]+)\/([^/]+)(?:\/versions\/([^/]+))?$/))) {
      if (req.method !== "GET") return methodNotAllowed(req.method);
      return await serveModel(m[1], m[2], m[3] ?? null);
    }
    if ((m = path.match(/^\/predictions\/([^/]+)$/))) {
      if (req.method !== "GET") return methodNotAllowed(req.method);
      const failure = getFailures.shift();
      if (failure) return injected(failure);
      const p = predictions.get(m[1]);
      return p ? json(200, p.json()) : notFound();
    }
    if ((m = path.match(/^\/predictions\/([^/]+)\/cancel$/))) {
      if (req.method !== "POST") return methodNotAllowed(req.method);
      const p = predictions.get(m[1]);
      if (!p) return notFound();
      if (!isTerminal(p.json().status)) p.canceledAt = Date.now();
      return json(200, p.json());
    }
    return notFound();
  }

  async function serveModel(owner: string, name: string, versionId: string | null) {
    const failure = modelFailures.shift();
    if (failure) return injected(failure);
    const id = `${owner}/${name}`;
    if (fake.modelNotFound.has(id)) return notFound();
    let model = fake.models.get(id);
    if (!model) {
      model = await defaultFakeModel(id);
      fake.models.set(id, model);
    }
    if (versionId === null) return json(200, modelJson(owner, name, model));
    const version = model.versions.find((v) => v.id === versionId);
    return version && !fake.modelNotFound.has(versionId)
      ? json(200, versionJson(version))
      : notFound();
  }

  async function create(
    req: Request,
    body: unknown,
    pathModel: string | null,
    signal: AbortSignal,
  ): Promise<Response> {
    const failure = createFailures.shift();
    if (failure) return injected(failure);
    if (!isRecord(body)) {
      return json(400, {
        title: "Bad request",
        detail: "Request body must be a JSON object",
        status: 400,
      });
    }

    let model: string;
    let version: string;
    if (pathModel !== null) {
      model = pathModel;
      version = "hidden";
    } else {
      const resolved = resolveVersion(body.version);
      if (!resolved) {
        return json(422, {
          title: "Invalid version",
          detail:
            "The specified version does not exist (or perhaps you don't have permission to use it?)",
          status: 422,
        });
      }
      ({ model, version } = resolved);
    }
    if (fake.modelNotFound.has(model)) return notFound();

    const invalid = validateInput(body.input);
    if (invalid.length > 0) {
      return json(422, {
        detail: invalid.map((f) => `- ${f.field}: ${f.description}\n`).join(""),
        status: 422,
        title: "Input validation failed",
        invalid_fields: invalid,
      });
    }

    const now = Date.now();
    let deadlineAt: number | null = null;
    const cancelAfter = req.headers.get("cancel-after");
    if (cancelAfter !== null) {
      const ms = parseDuration(cancelAfter);
      if (ms === null) {
        return json(400, {
          title: "Invalid Cancel-After header",
          detail: `Cannot parse Cancel-After ${
            JSON.stringify(cancelAfter)
          }: use a duration like 30s, 5m or 1h30m`,
          status: 400,
        });
      }
      deadlineAt = now + ms;
    }

    const prediction = newPrediction({
      model,
      version,
      input: body.input as Record<string, unknown>,
      createdAt: now,
      deadlineAt,
      webhook: typeof body.webhook === "string" ? body.webhook : null,
      webhookEvents: Array.isArray(body.webhook_events_filter)
        ? body.webhook_events_filter.filter((e): e is string => typeof e === "string")
        : null,
    });
    predictions.set(prediction.id, prediction);
    created++;

    const wait = parsePreferWait(req.headers.get("prefer"));
    if (wait !== null) {
      const remaining = endOf(prediction).at - Date.now();
      if (remaining > 0) await sleep(Math.min(remaining, wait), signal);
    }
    return json(201, prediction.json());
  }

  /** `GET /v1/predictions`: newest first, LIST_PAGE a page, `next` a URL with a cursor. */
  function list(url: URL): Response {
    // The map keeps creation order.
    const all = [...predictions.values()].reverse();
    const start = Math.max(0, Number(url.searchParams.get("cursor") ?? 0) || 0);
    const page = all.slice(start, start + LIST_PAGE);
    const more = start + LIST_PAGE < all.length;
    return json(200, {
      next: more ? `${origin}/v1/predictions?cursor=${start + LIST_PAGE}` : null,
      previous: start > 0
        ? `${origin}/v1/predictions?cursor=${Math.max(0, start - LIST_PAGE)}`
        : null,
      results: page.map((p) => p.json()),
    });
  }

  function resolveVersion(value: unknown): { model: string; version: string } | null {
    if (typeof value !== "string") return null;
    const [name, id] = value.includes(":") ? value.split(":", 2) : [null, value];
    if (VERSION_ID.test(id)) {
      if (fake.modelNotFound.has(id)) return null;
      return { model: name ?? fake.versions.get(id) ?? DEFAULT_VERSION_MODEL, version: id };
    }
    if (name === null && MODEL_NAME.test(value)) return { model: value, version: "hidden" };
    return null;
  }

  function newPrediction(init: {
    model: string;
    version: string;
    input: Record<string, unknown>;
    createdAt: number;
    deadlineAt: number | null;
    webhook: string | null;
    webhookEvents: string[] | null;
  }): InternalPrediction {
    const id = randomId(26);
    const latency = Math.max(0, fake.latencyMs);
    const startDelay = Math.min(latency, fake.startDelayMs ?? Math.round(latency / 10));
    const failure = fake.failPrediction;
    const runAt = init.createdAt + startDelay;
    const timeline: Timeline = {
      runAt,
      // A failing prediction dies half way through its denoising steps.
      naturalEnd: failure === null ? init.createdAt + latency : runAt + (latency - startDelay) / 2,
      failure,
      steps: integerOr(init.input.num_inference_steps, fake.steps),
      outputs: integerOr(init.input.num_outputs, 1),
      outputAsString: fake.outputAsString,
      seed: integerOr(init.input.seed, Math.floor(Math.random() * 2 ** 31)),
    };
    const prediction: InternalPrediction = {
      id,
      model: init.model,
      version: init.version,
      input: init.input,
      createdAt: init.createdAt,
      deadlineAt: init.deadlineAt,
      canceledAt: null,
      timeline,
      json: () => render(prediction, init.webhook, init.webhookEvents),
    };
    return prediction;
  }

  function render(
    p: InternalPrediction,
    webhook: string | null,
    webhookEvents: string[] | null,
  ): PredictionJson {
    const t = p.timeline;
    const now = Date.now();
    const end = endOf(p);
    const finished = now >= end.at;
    const seenAt = Math.min(now, end.at);
    const started = seenAt >= t.runAt && end.status !== "aborted";
    const status = finished ? end.status : started ? "processing" : "starting";

    const runMs = Math.max(1, t.naturalEnd - t.runAt);
    const fullRun = t.failure === null ? runMs : runMs * 2;
    const stepsDone = status === "succeeded"
      ? t.steps
      : Math.min(t.steps, Math.floor(((seenAt - t.runAt) / fullRun) * t.steps));
    let logs = "";
    if (started) {
      logs = `Using seed: ${t.seed}\n`;
      for (let k = 0; k <= Math.max(0, stepsDone); k++) {
        logs += tqdmLine(k, t.steps, (k / t.steps) * fullRun, fullRun) + "\n";
      }
      if (status === "succeeded") logs += `Total safe images: ${t.outputs} out of ${t.outputs}\n`;
      if (status === "failed") {
        logs += `Traceback (most recent call last):\nRuntimeError: ${t.failure}\n`;
      }
    }

    let output: string[] | string | null = null;
    if (status === "succeeded") {
      const urls = Array.from({ length: t.outputs }, (_, n) => `${origin}/files/${p.id}/${n}.png`);
      output = t.outputAsString ? urls[0] : urls;
    }

    const json: PredictionJson = {
      id: p.id,
      model: p.model,
      version: p.version,
      input: p.input,
      logs,
      output,
      error: status === "failed" ? t.failure : null,
      status,
      source: "api",
      created_at: iso(p.createdAt),
      started_at: started ? iso(t.runAt) : null,
      completed_at: finished ? iso(end.at) : null,
      data_removed: false,
      metrics: finished && started
        ? { predict_time: (end.at - t.runAt) / 1000, total_time: (end.at - p.createdAt) / 1000 }
        : {},
      urls: {
        get: `${origin}/v1/predictions/${p.id}`,
        cancel: `${origin}/v1/predictions/${p.id}/cancel`,
        stream: `${origin}/v1/predictions/${p.id}/stream`,
      },
    };
    if (p.deadlineAt !== null) json.deadline = iso(p.deadlineAt);
    if (webhook !== null) json.webhook = webhook;
    if (webhookEvents !== null) json.webhook_events_filter = webhookEvents;
    return json;
  }

  /** When and how a prediction ends: the earliest of completion, the deadline and a cancel. */
  function endOf(p: InternalPrediction): { at: number; status: PredictionJson["status"] } {
    const t = p.timeline;
    let end: { at: number; status: PredictionJson["status"] } = {
      at: t.naturalEnd,
      status: t.failure === null ? "succeeded" : "failed",
    };
    // Replicate: a deadline reached before the prediction runs aborts it, while running cancels it.
    if (p.deadlineAt !== null && p.deadlineAt < end.at) {
      end = { at: p.deadlineAt, status: p.deadlineAt < t.runAt ? "aborted" : "canceled" };
    }
    if (p.canceledAt !== null && p.canceledAt < end.at) {
      end = { at: p.canceledAt, status: "canceled" };
    }
    return end;
  }

  async function serveFile(pathname: string, signal: AbortSignal): Promise<Response> {
    if (fake.slowOutputMs > 0) await sleep(fake.slowOutputMs, signal);
    if (fake.outputStatus !== null) {
      return new Response(fake.outputStatus === 410 ? "Gone" : `Status ${fake.outputStatus}`, {
        status: fake.outputStatus,
        headers: { "content-type": "text/plain" },
      });
    }
    const m = pathname.match(/^\/files\/([^/]+)\/(\d+)\.png$/);
    const p = m ? predictions.get(m[1]) : undefined;
    if (!m || !p) return new Response("Not Found", { status: 404 });
    const state = p.json();
    const n = Number(m[2]);
    const count = Array.isArray(state.output) ? state.output.length : state.output === null ? 0 : 1;
    if (state.status !== "succeeded" || n >= count) {
      return new Response("Not Found", { status: 404 });
    }

    if (fake.nonImageOutput) {
      return new Response("<!doctype html><title>Service unavailable</title><p>Try again later", {
        headers: { "content-type": "text/html; charset=utf-8" },
      });
    }
    // The image depends on size and index only: one encoding serves every prediction.
    const width = integerOr(p.input.width, 64);
    const height = integerOr(p.input.height, 64);
    const key = `${width}x${height}/${n}`;
    let png = files.get(key);
    if (!png) {
      png = makePng(width, height, n);
      files.set(key, png);
    }
    const headers = {
      "content-type": "image/png",
      "content-length": String(png.byteLength),
      "cache-control": "public, max-age=3600",
    };
    if (fake.truncateOutput) {
      const half = png.slice(0, Math.floor(png.byteLength / 2));
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(half);
          controller.close();
        },
      });
      return new Response(stream, { headers });
    }
    return new Response(png, { headers });
  }

  function injected(failure: InjectedFailure): Response {
    const headers: Record<string, string> = {};
    if (failure.retryAfter !== undefined) headers["retry-after"] = failure.retryAfter;
    if (failure.status === 429) {
      return json(429, {
        detail: `Request was throttled. Your rate limit resets in ~${fake.rateLimitResetS}s.`,
      }, headers);
    }
    const title = failure.status >= 500 ? "Internal Server Error" : "Error";
    return json(failure.status, {
      title,
      detail: `Injected failure ${failure.status}`,
      status: failure.status,
    }, headers);
  }

  const listening = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: (addr) => listening.resolve(addr) },
    handle,
  );
  const addr = await listening.promise;
  origin = `http://${addr.hostname}:${addr.port}`;
  return fake;
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

function notFound(): Response {
  return json(404, {
    detail: "The requested resource could not be found.",
    status: 404,
    title: "Not found",
  });
}

function methodNotAllowed(method: string): Response {
  return json(405, {
    detail: `Method "${method}" not allowed.`,
    status: 405,
    title: "Method not allowed",
  });
}

function parseBody(text: string): unknown {
  if (text === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

interface InvalidField {
  type: string;
  field: string;
  description: string;
}

/** Validates like the image models on Replicate do (a JSON schema on the input). */
function validateInput(input: unknown): InvalidField[] {
  if (!isRecord(input)) {
    return [{
      type: "invalid_type",
      field: "input",
      description: `Invalid type. Expected: object, given: ${jsonType(input)}`,
    }];
  }
  const fields: InvalidField[] = [];
  if (!("prompt" in input)) {
    fields.push({ type: "required", field: "input", description: "prompt is required" });
  } else if (typeof input.prompt !== "string") {
    fields.push(typeMismatch("input.prompt", "string", input.prompt));
  }
  if ("negative_prompt" in input && typeof input.negative_prompt !== "string") {
    fields.push(typeMismatch("input.negative_prompt", "string", input.negative_prompt));
  }
  checkInteger(fields, input, "width", 1, MAX_SIDE);
  checkInteger(fields, input, "height", 1, MAX_SIDE);
  checkInteger(fields, input, "num_outputs", 1, MAX_OUTPUTS);
  checkInteger(fields, input, "num_inference_steps", 1, 500);
  checkInteger(fields, input, "seed", 0, 2 ** 32 - 1);
  return fields;
}

function checkInteger(
  fields: InvalidField[],
  input: Record<string, unknown>,
  name: string,
  min: number,
  max: number,
): void {
  if (!(name in input)) return;
  const value = input[name];
  const field = `input.${name}`;
  if (typeof value !== "number" || !Number.isInteger(value)) {
    fields.push(typeMismatch(field, "integer", value));
  } else if (value > max) {
    fields.push({ type: "number_lte", field, description: `Must be less than or equal to ${max}` });
  } else if (value < min) {
    fields.push({
      type: "number_gte",
      field,
      description: `Must be greater than or equal to ${min}`,
    });
  }
}

function typeMismatch(field: string, expected: string, value: unknown): InvalidField {
  return {
    type: "invalid_type",
    field,
    description: `Invalid type. Expected: ${expected}, given: ${jsonType(value)}`,
  };
}

function jsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isTerminal(status: PredictionJson["status"]): boolean {
  return status !== "starting" && status !== "processing";
}

function integerOr(value: unknown, fallback: number): number {
  return typeof value === "number" && Number.isInteger(value) ? value : fallback;
}

/** `30s`, `5m`, `1h30m`, `1500ms`, or a bare number of seconds → milliseconds. */
function parseDuration(text: string): number | null {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== trimmed) return null;
  return parts.reduce((sum, p) => sum + Number(p[1]) * units[p[2]], 0);
}

/** `Prefer: wait` (60 s) or `wait=n` → milliseconds, or null when the client does not wait. */
function parsePreferWait(header: string | null): number | null {
  const m = header?.match(/(?:^|[;,\s])wait(?:=(\d+))?(?:$|[;,\s])/);
  if (!m) return null;
  return Math.min(60, m[1] ? Number(m[1]) : 60) * 1000;
}

/** A tqdm line like ` 40%|████      | 8/20 [00:00<00:01, 10.00it/s]`. */
export function tqdmLine(done: number, total: number, elapsedMs: number, runMs: number): string {
  const pct = Math.floor((done / total) * 100);
  const filled = Math.floor((done / total) * 10);
  const bar = "█".repeat(filled) + " ".repeat(10 - filled);
  const rate = total / Math.max(runMs / 1000, 0.001);
  const left = done === 0 ? "?" : clock(runMs - elapsedMs);
  const speed = done === 0 ? "?it/s" : `${rate.toFixed(2)}it/s`;
  return `${String(pct).padStart(3)}%|${bar}| ${done}/${total} [${
    clock(elapsedMs)
  }<${left}, ${speed}]`;
}

function clock(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function randomId(length: number): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
}

/** A gradient PNG, different for each output index. */
export function makePng(width: number, height: number, index: number): Uint8Array<ArrayBuffer> {
  const data = new Uint8Array(width * height * 3);
  const tint = (index * 67) % 256;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      data[o] = Math.floor((x / Math.max(1, width - 1)) * 255);
      data[o + 1] = Math.floor((y / Math.max(1, height - 1)) * 255);
      data[o + 2] = tint;
    }
  }
  return new Uint8Array(encode({ width, height, data, channels: 3, depth: 8 }));
}

/** Resolves after `ms`, or as soon as `signal` aborts; never leaves a timer behind. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
