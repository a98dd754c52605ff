/** The browser's view of the REST API: typed fetch calls and the live job feed (SSE + polling). */
// Types only from shared/ (erased from the bundle): the API's JSON is described once, there.
import type { ImageJson as ApiImageJson, JobJson as ApiJobJson } from "../shared/jobs/json.ts";

/** An image as the UI holds it (a job held before the API answered has no thumbnail yet). */
export type ImageJson = Omit<ApiImageJson, "thumbnail_url"> & { thumbnail_url?: string };
import type { JobStatus } from "../shared/jobs/repo.ts";
import type { ModelCard } from "../shared/models/card.ts";
import type { ModelInfo, ProviderStatus } from "../shared/providers/registry.ts";
import type { ProviderHealth } from "../shared/providers/health.ts";
import type { JobQueue, PriorityName, QueueStats } from "../shared/queue/queue.ts";
import type { KeyBudget } from "../shared/spend/budgets.ts";
import type { GroupBy, UsageReport } from "../shared/spend/usage.ts";

export const JOB_STATUSES: readonly JobStatus[] = [
  "pending",
  "processing",
  "completed",
  "failed",
  "canceled",
];

/** The priorities the form offers, in its order (high jobs run before normal, normal before low). */
export const PRIORITIES: readonly PriorityName[] = ["normal", "high", "low"];

/**
 * A job as the UI holds it: the API's job JSON, except that a job shown before the API answered
 * (an optimistic submit, or the state an action is expected to leave) may lack what only the
 * API sets.
 */
export type JobJson =
  & Omit<
    ApiJobJson,
    | "priority"
    | "actions"
    | "webhook_url"
    | "webhook_events"
    | "thumbnail_url"
    | "images"
    | "provider"
    | "provider_model"
    | "route"
    | "queue_position"
    | "predictions"
    | "predict_time_s"
    | "cost_usd"
    | "starred"
    | "eta_s"
  >
  & {
    images: ImageJson[];
    priority?: ApiJobJson["priority"];
    /** Follow-up actions; buttons are shown only for those that are true. */
    actions?: Partial<ApiJobJson["actions"]>;
    webhook_url?: ApiJobJson["webhook_url"];
    thumbnail_url?: ApiJobJson["thumbnail_url"];
    webhook_events?: ApiJobJson["webhook_events"];
    /** Who holds the job's prediction (`replicate`, `fal`, `local`). */
    provider?: ApiJobJson["provider"];
    provider_model?: ApiJobJson["provider_model"];
    route?: ApiJobJson["route"];
    /** Place in line: in the provider's own queue while processing there, else among the pending. */
    queue_position?: ApiJobJson["queue_position"];
    predictions?: ApiJobJson["predictions"];
    predict_time_s?: ApiJobJson["predict_time_s"];
    cost_usd?: ApiJobJson["cost_usd"];
    /** Starred by its owner (absent from a server without the library: shown as not starred). */
    starred?: boolean;
    /** Seconds the job should still need when the API answered (from the model's recent runs). */
    eta_s?: number | null;
  };

/** A named collection of jobs ("board"), as `GET /collections` lists it. */
export interface CollectionJson {
  id: string;
  name: string;
  /** Jobs in it, when the server counts them. */
  job_count?: number;
}

/** What `POST /jobs/bulk` does to each of its ids. */
export type BulkAction = "delete" | "star" | "unstar" | "add_to" | "remove_from";

/** One id's outcome in a bulk answer. */
export interface BulkItemResult {
  id: string;
  ok: boolean;
  /** Why it was not done (e.g. not found), when it was not. */
  error?: string;
}

/** History's filters as `GET /jobs` takes them (empty values are left out). */
export interface JobListQuery {
  skip?: number;
  limit: number;
  status?: JobStatus | "";
  provider?: string;
  /** Words of the prompt or negative prompt. */
  q?: string;
  model?: string;
  starred?: boolean;
  collection?: string;
  /** ISO times: made at or after / before. */
  after?: string;
  before?: string;
  sort?: "newest" | "oldest";
  /** The opaque position the API gave for the next page. */
  cursor?: string;
}

export interface GenerateBody {
  prompt: string;
  model: string;
  negative_prompt?: string;
  parameters: Record<string, unknown>;
  priority?: PriorityName;
}

/** An API key as `GET /me` describes it (never the secret). */
export interface KeyInfo {
  name: string;
  prefix: string;
  admin: boolean;
}

export interface MeJson {
  auth_required: boolean;
  authenticated: boolean;
  key: KeyInfo | null;
}

export type { ModelCard };

/** One model of `GET /models`: offline, suggested (curated) or used recently. */
export interface ModelEntry extends ModelInfo {
  title?: string;
  cover_image_url?: string | null;
  source?: "local" | "curated" | "recent" | "route";
}

export interface ModelsJson {
  providers: ProviderStatus[];
  models: ModelEntry[];
  default_model: string | null;
  custom_models: boolean;
}

/**
 * `GET /stats`. Admin keys (and the open API) get `scope: "instance"`, every figure; other keys
 * get `scope: "key"`: their own jobs and streams, without the queue's counts and the workers.
 */
export interface StatsJson {
  scope?: "instance" | "key";
  queue: { backend: JobQueue["backend"] } & Partial<Omit<QueueStats, "completed">>;
  workers?: { online: number; capacity: number; active: number };
  jobs_last_hour: { total: number; by_status: Partial<Record<JobStatus, number>> };
  median_duration_s: number | null;
  database: string;
  /** Each provider with its circuit (`status`: up, down, probing, off), when the API says. */
  providers: (ProviderStatus & Partial<ProviderHealth>)[];
  live_clients?: number;
}

/** `GET /usage`: estimated spend over a range, and the budget of the key it is about. */
export type UsageJson = UsageReport & {
  key: string | null;
  currency: "USD";
  estimate: true;
  budget: Omit<KeyBudget, "key_id" | "webhook_url"> | null;
};
/** `POST /uploads`: a stored image for an image input (use `url` or `upload:<id>`). */
export interface UploadJson {
  id: string;
  url: string;
  content_type: string;
  width: number | null;
  height: number | null;
  bytes: number;
  created_at: string;
  expires_at: string;
}

export interface HealthJson {
  status: "ok" | "degraded" | "unavailable";
  checks: Record<string, unknown>;
}

export interface ErrorDetail {
  field: string;
  message: string;
}

/** An answer other than 2xx, carrying the API's `{error: {code, message, details}}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ErrorDetail[] = [],
    /** Seconds the server asked to wait (`Retry-After`), when it did. */
    readonly retryAfterS: number | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** `Retry-After` (delay in seconds, or an HTTP date) as whole seconds from `now`; null if absent. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000));
}

/** The header carrying an API key (none without a key). */
export function authHeaders(key: string | null): Record<string, string> {
  return key ? { authorization: `Bearer ${key}` } : {};
}

/**
 * `url` with `access_token=<key>` added, for EventSource (which cannot send headers). Only the
 * event stream takes it: every other call sends the key in `Authorization` (the API refuses a key
 * in any other URL).
 */
export function withAccessToken(url: string, key: string | null): string {
  if (!key) return url;
  return `${url}${url.includes("?") ? "&" : "?"}access_token=${encodeURIComponent(key)}`;
}

export interface ApiClient {
  generate(body: GenerateBody): Promise<{ job_id: string; status: string; message: string }>;
  getJob(id: string): Promise<JobJson>;
  /**
   * A page of jobs, the total when the API counts it (`estimated` above the API's threshold), and
   * the next page's cursor when it gives one.
   */
  listJobs(query: JobListQuery): Promise<{
    jobs: JobJson[];
    total: number | null;
    estimated?: boolean;
    next: string | null;
  }>;
  models(): Promise<ModelsJson>;
  /** `GET /models/{owner}/{name}[:version]`: the model's card with its input schema. */
  model(id: string): Promise<ModelCard>;
  /** `POST /uploads` with the image as the body. */
  upload(image: Blob): Promise<UploadJson>;
  /** An upload's image (`/uploads/<id>` or `upload:<id>`), fetched with the key. */
  uploadImage(ref: string): Promise<Blob>;
  stats(): Promise<StatsJson>;
  usage(query: { from?: string; to?: string; group_by?: GroupBy }): Promise<UsageJson>;
  health(): Promise<HealthJson>;
  cancel(id: string): Promise<JobJson | null>;
  retry(id: string): Promise<JobJson | null>;
  /** `DELETE /jobs/{id}`: the job and its images. */
  deleteJob(id: string): Promise<void>;
  /** `POST` (on) or `DELETE` (off) `/jobs/{id}/star`; the job when the API answers with it. */
  star(id: string, on: boolean): Promise<JobJson | null>;
  /** `POST /jobs/bulk`: the answer as it comes (state/library.ts reads one result per id). */
  bulk(body: { ids: string[]; action: BulkAction; collection?: string }): Promise<unknown>;
  collections(): Promise<CollectionJson[]>;
  createCollection(name: string): Promise<CollectionJson>;
  /**
   * Who the API takes the caller for. With `key` (a string, or null for none) that key is sent
   * instead of the current one, and a 401 only rejects: it is not reported to `onUnauthorized`.
   */
  me(key?: string | null): Promise<MeJson>;
}

export interface ApiClientOptions {
  /** Prefix of the REST API (default `/api/v1`). */
  base?: string;
  fetch?: typeof fetch;
  /** The API key to send as `Authorization: Bearer`, read before every call. */
  key?: () => string | null;
  /** Told when a call made with `sentKey` is answered 401 (the key is missing or was revoked). */
  onUnauthorized?: (sentKey: string | null) => void;
}

/** An upload reference: `upload:<id>` or its url `/uploads/<id>`. */
const UPLOAD_REF =
  /^(?:upload:|\/uploads\/)([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

/** The upload id an image input names (`upload:<id>` or `/uploads/<id>`), or null. */
export function uploadIdOf(ref: string): string | null {
  return UPLOAD_REF.exec(ref)?.[1].toLowerCase() ?? null;
}

/** Creates the client; every call rejects with an `ApiError` on a non-2xx answer. */
export function createApiClient(options: ApiClientOptions = {}): ApiClient {
  const base = options.base ?? "/api/v1";
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const currentKey = options.key ?? (() => null);

  /**
   * Calls the API (a path under `base`, or `url` from the site's root) with the current key, or
   * with `explicitKey` (then a 401 is not reported).
   */
  async function call(
    path: string,
    init?: RequestInit,
    explicitKey?: string | null,
    url = base + path,
  ): Promise<Response> {
    const key = explicitKey === undefined ? currentKey() : explicitKey;
    let res: Response;
    try {
      res = await doFetch(url, {
        ...init,
        headers: { accept: "application/json", ...authHeaders(key), ...init?.headers },
      });
    } catch (err) {
      throw new ApiError(0, "network", `Cannot reach the server (${(err as Error).message})`);
    }
    if (res.ok) return res;
    let body: unknown = null;
    try {
      body = await res.json();
    } catch { /* not JSON */ }
    const e = (body as { error?: { code?: string; message?: string; details?: ErrorDetail[] } })
      ?.error;
    const error = new ApiError(
      res.status,
      e?.code ?? `http_${res.status}`,
      e?.message ?? `The server answered ${res.status} ${res.statusText}`.trim(),
      Array.isArray(e?.details) ? e.details : [],
      parseRetryAfter(res.headers.get("retry-after")),
    );
    if (res.status === 401 && explicitKey === undefined) options.onUnauthorized?.(key);
    throw error;
  }
  const json = async <T>(path: string, init?: RequestInit) =>
    (await (await call(path, init)).json()) as T;
  const post = (body?: unknown): RequestInit => ({
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body ?? {}),
  });
  const action = async (path: string) => {
    const res = await call(path, post());
    const text = await res.text();
    return text ? JSON.parse(text) as JobJson : null;
  };
  const id = (s: string) => encodeURIComponent(s);

  return {
    generate: (body) => json("/generate", post(body)),
    getJob: (jobId) => json(`/status/${id(jobId)}`),
    async listJobs(query) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== "") q.set(k, `${v}`);
      const res = await call(`/jobs?${q}`);
      const header = res.headers.get("x-total-count");
      const total = header !== null && /^\d+$/.test(header) ? Number(header) : null;
      return {
        jobs: (await res.json()) as JobJson[],
        total,
        estimated: res.headers.get("x-total-count-estimated") === "true",
        next: res.headers.get("x-next-cursor"),
      };
    },
    models: () => json("/models"),
    model: (model) => json(`/models/${encodeURI(model)}`),
    upload: (image) =>
      json("/uploads", {
        method: "POST",
        headers: { "content-type": image.type || "application/octet-stream" },
        body: image,
      }),
    async uploadImage(ref) {
      // The key goes only to this site's own upload route, never to a URL from elsewhere.
      const id = uploadIdOf(ref);
      if (!id) throw new ApiError(0, "not_an_upload", `${ref.slice(0, 80)} is not an upload`);
      const res = await call("", { headers: { accept: "image/*" } }, undefined, `/uploads/${id}`);
      return await res.blob();
    },
    stats: () => json("/stats"),
    usage: (query) => json(`/usage?${new URLSearchParams(query as Record<string, string>)}`),
    health: async () => {
      try {
        return await json<HealthJson>("/health");
      } catch (err) {
        // 503 still carries the health document.
        if (err instanceof ApiError && err.status === 503) {
          return { status: "unavailable", checks: {} };
        }
        throw err;
      }
    },
    cancel: (jobId) => action(`/jobs/${id(jobId)}/cancel`),
    retry: (jobId) => action(`/jobs/${id(jobId)}/retry`),
    async deleteJob(jobId) {
      const res = await call(`/jobs/${id(jobId)}`, { method: "DELETE" });
      await res.body?.cancel();
    },
    me: async (key) => (await call("/me", undefined, key)).json() as Promise<MeJson>,
    async star(jobId, on) {
      const res = await call(`/jobs/${id(jobId)}/star`, on ? post() : { method: "DELETE" });
      const text = await res.text();
      const body = text ? JSON.parse(text) : null;
      return body && typeof body.id === "string" ? body as JobJson : null;
    },
    bulk: (body) => json("/jobs/bulk", post(body)),
    async collections() {
      const answer = await json<CollectionJson[] | { collections: CollectionJson[] }>(
        "/collections",
      );
      return Array.isArray(answer) ? answer : answer.collections ?? [];
    },
    createCollection: (name) => json("/collections", post({ name })),
  };
}

/** How the live feed currently gets its updates. */
export type FeedState = "connecting" | "live" | "polling";

export interface EventSourceLike {
  readonly readyState: number;
  onopen: ((ev: Event) => unknown) | null;
  onerror: ((ev: Event) => unknown) | null;
  addEventListener(type: string, listener: (ev: MessageEvent) => void): void;
  close(): void;
}

export interface LiveFeedOptions {
  /** The stream's URL, read at every (re)connection (it may carry a key that changes). */
  url: string | (() => string);
  client: Pick<ApiClient, "getJob">;
  onJob(job: JobJson): void;
  onJobDeleted(id: string): void;
  onState(state: FeedState): void;
  /** Ids of jobs still running; polled while SSE is down. */
  runningIds(): string[];
  /** Called after SSE comes back from a failure (to refresh lists that may have missed events). */
  onResync?(): void;
  /** Called when the browser gave up on the stream (refused, e.g. 401 or 404) before a retry. */
  onRefused?(): void;
  /**
   * A cheap request made every `probeMs` while the stream is down; resolves true when the server
   * answered at all (any status), false when it could not be reached. When it answers after
   * having been unreachable, the stream reopens at once instead of at its next backoff step.
   */
  probe?(): Promise<boolean>;
  createEventSource?: (url: string) => EventSourceLike;
  pollMs?: number;
  /** How often `probe` runs while the stream is down (ms). Default 1500. */
  probeMs?: number;
  /** Waits before each reopen after a failure, the last repeated (ms). */
  backoffMs?: readonly number[];
  /** For the jitter added to each wait (up to a fifth of it); Math.random by default. */
  random?: () => number;
  setTimeout?: typeof setTimeout;
  clearTimeout?: typeof clearTimeout;
}

/** Reopen waits after a failure: quick at first (a restart), then patient (an outage). */
export const RECONNECT_BACKOFF_MS: readonly number[] = [1000, 2000, 5000, 10_000, 20_000, 30_000];

const CLOSED = 2;

/**
 * Subscribes to `GET /events`. While the stream is not open, running jobs are polled one by one;
 * polling stops as soon as the stream is back. Reconnecting is ours, not the browser's (whose
 * retries never back off and stop for good after a refusal): after a failure, or the server's
 * `shutdown` event, the stream reopens after 1 s, 2 s, 5 s, … (plus a little jitter), and at once
 * when `probe` finds the server answering again after it could not be reached. Returns a function
 * that stops everything.
 */
export function connectLiveFeed(options: LiveFeedOptions): () => void {
  const create = options.createEventSource ?? ((url) => new EventSource(url));
  const later = options.setTimeout ?? setTimeout;
  const cancel = options.clearTimeout ?? clearTimeout;
  const pollMs = options.pollMs ?? 2000;
  const probeMs = options.probeMs ?? 1500;
  const backoff = options.backoffMs ?? RECONNECT_BACKOFF_MS;
  const random = options.random ?? Math.random;
  let source: EventSourceLike | null = null;
  let live = false;
  let stopped = false;
  let pollTimer: ReturnType<typeof setTimeout> | undefined;
  let reopenTimer: ReturnType<typeof setTimeout> | undefined;
  let probeTimer: ReturnType<typeof setTimeout> | undefined;
  /** Failures since the stream was last open (picks the backoff step). */
  let failures = 0;
  let everFailed = false;
  /** Whether the last probe reached the server (the page itself came from it). */
  let reachable = true;

  const parse = (ev: MessageEvent): unknown => {
    try {
      return JSON.parse(String(ev.data));
    } catch {
      return null;
    }
  };

  function startPolling() {
    if (pollTimer !== undefined || stopped) return;
    options.onState("polling");
    const tick = async () => {
      const ids = options.runningIds();
      await Promise.all(ids.map(async (id) => {
        try {
          options.onJob(await options.client.getJob(id));
        } catch { /* next tick */ }
      }));
      if (pollTimer !== undefined && !stopped) pollTimer = later(tick, pollMs);
    };
    pollTimer = later(tick, 0);
  }

  function stopPolling() {
    if (pollTimer !== undefined) cancel(pollTimer);
    pollTimer = undefined;
  }

  function startProbing() {
    const probe = options.probe;
    if (!probe || probeTimer !== undefined || stopped) return;
    const tick = async () => {
      let answered = false;
      try {
        answered = await probe();
      } catch { /* unreachable */ }
      if (stopped || live) {
        probeTimer = undefined;
        return;
      }
      const cameBack = answered && !reachable;
      reachable = answered;
      if (cameBack && source === null) {
        // The server is back: no need to wait for the next backoff step.
        probeTimer = undefined;
        open();
        return;
      }
      probeTimer = later(tick, probeMs);
    };
    probeTimer = later(tick, probeMs);
  }

  function stopProbing() {
    if (probeTimer !== undefined) cancel(probeTimer);
    probeTimer = undefined;
  }

  /** The stream failed or the server is going away: close it and reopen with backoff. */
  function lost(es: EventSourceLike) {
    if (es !== source || stopped) return;
    const refused = es.readyState === CLOSED;
    es.close();
    source = null;
    live = false;
    everFailed = true;
    if (refused) options.onRefused?.();
    startPolling();
    const step = backoff[Math.min(failures, backoff.length - 1)];
    failures++;
    reopenTimer = later(() => {
      reopenTimer = undefined;
      open();
    }, Math.round(step * (1 + 0.2 * random())));
    startProbing();
  }

  function open() {
    if (stopped || source !== null) return;
    if (reopenTimer !== undefined) cancel(reopenTimer);
    reopenTimer = undefined;
    const es = create(typeof options.url === "function" ? options.url() : options.url);
    source = es;
    es.onopen = () => {
      if (es !== source) return;
      live = true;
      failures = 0;
      reachable = true;
      stopPolling();
      stopProbing();
      options.onState("live");
      if (everFailed) options.onResync?.();
    };
    es.onerror = () => lost(es);
    es.addEventListener("shutdown", () => lost(es));
    es.addEventListener("job", (ev) => {
      const job = parse(ev) as JobJson | null;
      if (job && typeof job.id === "string") options.onJob(job);
    });
    es.addEventListener("job_deleted", (ev) => {
      const data = parse(ev) as { id?: unknown } | null;
      if (data && typeof data.id === "string") options.onJobDeleted(data.id);
    });
  }

  options.onState("connecting");
  open();
  return () => {
    stopped = true;
    stopPolling();
    stopProbing();
    if (reopenTimer !== undefined) cancel(reopenTimer);
    source?.close();
  };
}
