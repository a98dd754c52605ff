/**
 * A fake fal.ai queue API for tests: a real server on 127.0.0.1 answering with the shapes of
 * `queue.fal.run` (submit, status with logs and queue position, result, cancel), serving its
 * outputs as real PNG files (as `fal.media` would), its webhook signing keys as JWKS (as
 * `rest.fal.ai/.well-known/jwks.json` does) and an OpenAPI document per endpoint; it signs and
 * sends `fal_webhook` deliveries, and can be told to fail in the ways the real service does.
 *
 * A request's state is computed from the clock when it is read: IN_QUEUE for `queueMs` (its
 * queue position counting down), IN_PROGRESS for `latencyMs` (tqdm lines in its logs), then
 * COMPLETED. Like fal, the URLs it returns drop the endpoint's subpath: a request made to
 * `fal-ai/flux/schnell` is followed at `fal-ai/flux/requests/{id}`.
 */
import { makePng, tqdmLine } from "./fake_replicate.ts";

/** One request the fake received, as it arrived. */
export interface FalRecordedRequest {
  method: string;
  /** Path and query. */
  path: string;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: unknown;
}

/** A request (a "prediction") held by the fake. */
export interface FalRequest {
  readonly id: string;
  readonly endpoint: string;
  readonly input: Record<string, unknown>;
  readonly createdAt: number;
  readonly webhook: string | null;
  canceledAt: number | null;
}

export interface FakeFalOptions {
  /** The accepted key (`Authorization: Key <key>`); a random one by default. */
  key?: string;
  /** Time IN_QUEUE (ms). */
  queueMs?: number;
  /** Requests ahead of a new one (its first queue_position). */
  queueAhead?: number;
  /** Time IN_PROGRESS (ms). */
  latencyMs?: number;
  steps?: number;
  /** When set, requests end with this error. */
  failRequest?: string | null;
  /** When set, output files answer this status. */
  outputStatus?: number | null;
  /** Endpoints (ids) that publish no OpenAPI document. */
  noSchema?: Iterable<string>;
}

export interface InjectedFalFailure {
  status: number;
  retryAfter?: string;
}

/** A running fake; stop it with `close()`. */
export interface FakeFal {
  /** The queue base URL (what FAL_QUEUE_URL takes). */
  readonly url: string;
  readonly origin: string;
  readonly key: string;
  /** Where its signing keys are (what FAL_JWKS_URL takes). */
  readonly jwksUrl: string;
  /** The OpenAPI documents' URL (what FAL_OPENAPI_URL takes). */
  readonly openapiUrl: string;
  readonly requests: FalRecordedRequest[];
  readonly queue: Map<string, FalRequest>;
  /** Requests accepted so far: what would be billed (failed submits do not count). */
  readonly submittedCount: number;
  queueMs: number;
  queueAhead: number;
  latencyMs: number;
  steps: number;
  failRequest: string | null;
  outputStatus: number | null;
  readonly noSchema: Set<string>;
  /** Webhook deliveries sent, with the receiver's status (or the error). */
  readonly webhooksSent: { requestId: string; status: number | string }[];
  /** The next `n` submits answer `status` (500 by default). */
  failNextSubmits(n: number, status?: number, options?: { retryAfter?: string }): void;
  /** The next `n` status reads answer `status`. */
  failNextStatus(n: number, status?: number): void;
  requestsTo(method: string, path: string | RegExp): FalRecordedRequest[];
  /** Signed headers for a webhook body, as fal would send them. */
  signWebhook(
    body: string,
    options?: { requestId?: string; userId?: string; timestamp?: number },
  ): Promise<Record<string, string>>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** fal's `image_size` presets (scaled down 16 times here, so test images stay small). */
const PRESETS: Record<string, [number, number]> = {
  square_hd: [1024, 1024],
  square: [512, 512],
  portrait_4_3: [768, 1024],
  portrait_16_9: [576, 1024],
  landscape_4_3: [1024, 768],
  landscape_16_9: [1024, 576],
};

const USER_ID = "fake-fal-user";

/** Starts a fake fal on a free port of 127.0.0.1. */
export async function startFakeFal(options: FakeFalOptions = {}): Promise<FakeFal> {
  const closing = new AbortController();
  const submitFailures: InjectedFalFailure[] = [];
  const statusFailures: InjectedFalFailure[] = [];
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const sending = new Set<Promise<void>>();
  const keys = await crypto.subtle.generateKey("Ed25519", true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const jwk = await crypto.subtle.exportKey("jwk", keys.publicKey);
  let submitted = 0;
  let origin = "";
  const queue = new Map<string, FalRequest>();

  const fake: FakeFal = {
    get url() {
      return origin;
    },
    get origin() {
      return origin;
    },
    get jwksUrl() {
      return `${origin}/.well-known/jwks.json`;
    },
    get openapiUrl() {
      return `${origin}/api/openapi/queue/openapi.json`;
    },
    key: options.key ?? `fake-fal-${crypto.randomUUID()}:${crypto.randomUUID().slice(0, 8)}`,
    requests: [],
    queue,
    get submittedCount() {
      return submitted;
    },
    queueMs: options.queueMs ?? 0,
    queueAhead: options.queueAhead ?? 3,
    latencyMs: options.latencyMs ?? 300,
    steps: options.steps ?? 8,
    failRequest: options.failRequest ?? null,
    outputStatus: options.outputStatus ?? null,
    noSchema: new Set(options.noSchema ?? []),
    webhooksSent: [],
    failNextSubmits(n, status = 500, extra = {}) {
      for (let i = 0; i < n; i++) submitFailures.push({ status, ...extra });
    },
    failNextStatus(n, status = 500) {
      for (let i = 0; i < n; i++) statusFailures.push({ status });
    },
    requestsTo(method, path) {
      return fake.requests.filter((r) => {
        const bare = r.path.split("?")[0];
        return r.method === method && (typeof path === "string" ? bare === path : path.test(bare));
      });
    },
    async signWebhook(body, opts = {}) {
      const requestId = opts.requestId ?? crypto.randomUUID();
      const timestamp = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
      const userId = opts.userId ?? USER_ID;
      const digest = hex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body)));
      const message = new TextEncoder().encode(`${requestId}\n${userId}\n${timestamp}\n${digest}`);
      const signature = hex(await crypto.subtle.sign("Ed25519", keys.privateKey, message));
      return {
        "content-type": "application/json",
        "x-fal-webhook-request-id": requestId,
        "x-fal-webhook-user-id": userId,
        "x-fal-webhook-timestamp": timestamp,
        "x-fal-webhook-signature": signature,
      };
    },
    async close() {
      if (!closing.signal.aborted) {
        closing.abort();
        for (const t of timers) clearTimeout(t);
        timers.clear();
        await Promise.allSettled([...sending]);
        await server.shutdown();
      }
      await server.finished;
    },
    [Symbol.asyncDispose]() {
      return fake.close();
    },
  };

  /** `owner/app` of an endpoint id: where fal serves its requests. */
  const appOf = (endpoint: string) => endpoint.split("/").slice(0, 2).join("/");
  const urlsOf = (r: FalRequest) => {
    const base = `${origin}/${appOf(r.endpoint)}/requests/${r.id}`;
    return { response_url: base, status_url: `${base}/status`, cancel_url: `${base}/cancel` };
  };

  /** Where a request stands now. */
  function stateOf(r: FalRequest) {
    const now = Date.now();
    const runAt = r.createdAt + fake.queueMs;
    const naturalEnd = runAt + fake.latencyMs;
    const canceled = r.canceledAt !== null && r.canceledAt < naturalEnd;
    const endAt = canceled ? r.canceledAt! : naturalEnd;
    if (now >= endAt) {
      return {
        status: "COMPLETED" as const,
        error: canceled ? "Request was cancelled" : fake.failRequest,
        errorType: canceled ? "request_cancelled" : fake.failRequest ? "runner_error" : null,
        done: fake.steps,
        endAt,
        runAt,
      };
    }
    if (now < runAt) {
      const left = (runAt - now) / Math.max(1, fake.queueMs);
      return {
        status: "IN_QUEUE" as const,
        position: Math.max(0, Math.ceil(fake.queueAhead * left) - 1),
        runAt,
      };
    }
    const done = Math.floor(((now - runAt) / Math.max(1, fake.latencyMs)) * fake.steps);
    return { status: "IN_PROGRESS" as const, done: Math.min(done, fake.steps - 1), runAt };
  }

  function logsOf(
    done: number,
  ): { message: string; level: string; source: string; timestamp: string }[] {
    const at = new Date().toISOString();
    const lines = [{ message: "Loading model", level: "INFO", source: "user", timestamp: at }];
    for (let k = 0; k <= done; k++) {
      lines.push({
        message: tqdmLine(k, fake.steps, (k / fake.steps) * fake.latencyMs, fake.latencyMs),
        level: "INFO",
        source: "user",
        timestamp: at,
      });
    }
    return lines;
  }

  function sizeOf(input: Record<string, unknown>): [number, number] {
    const size = input.image_size;
    if (typeof size === "string" && PRESETS[size]) {
      const [w, h] = PRESETS[size];
      return [w / 16, h / 16];
    }
    if (size && typeof size === "object") {
      const { width, height } = size as Record<string, unknown>;
      if (Number.isInteger(width) && Number.isInteger(height)) {
        return [Math.min(2048, width as number), Math.min(2048, height as number)];
      }
    }
    return [64, 64];
  }

  function resultOf(r: FalRequest) {
    const [width, height] = sizeOf(r.input);
    const count = Number.isInteger(r.input.num_images) ? Number(r.input.num_images) : 1;
    return {
      images: Array.from({ length: Math.max(1, Math.min(4, count)) }, (_, n) => ({
        url: `${origin}/files/${r.id}/${n}.png?w=${width}&h=${height}`,
        width,
        height,
        content_type: "image/png",
      })),
      seed: Number.isInteger(r.input.seed) ? r.input.seed : 42,
      timings: { inference: fake.latencyMs / 1000 },
      has_nsfw_concepts: [false],
      prompt: r.input.prompt,
    };
  }

  /** Sends the webhook of a finished request, signed, once. */
  function scheduleWebhook(r: FalRequest, atMs: number): void {
    if (!r.webhook) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      const state = stateOf(r);
      const ok = state.status === "COMPLETED" && !state.error;
      const body = JSON.stringify({
        request_id: r.id,
        gateway_request_id: r.id,
        status: ok ? "OK" : "ERROR",
        ...(ok
          ? { payload: resultOf(r) }
          : { error: state.status === "COMPLETED" ? state.error : "unknown", payload: null }),
      });
      const delivery = (async () => {
        try {
          const res = await fetch(r.webhook!, {
            method: "POST",
            headers: await fake.signWebhook(body, { requestId: r.id }),
            body,
            signal: AbortSignal.timeout(5000),
          });
          await res.body?.cancel();
          fake.webhooksSent.push({ requestId: r.id, status: res.status });
        } catch (err) {
          fake.webhooksSent.push({ requestId: r.id, status: (err as Error).message });
        }
      })();
      sending.add(delivery);
      delivery.finally(() => sending.delete(delivery));
    }, Math.max(0, atMs - Date.now()));
    timers.add(timer);
  }

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
    const path = url.pathname;
    if (path === "/.well-known/jwks.json") {
      // The live JWKS pads its base64url `x`: so does this one.
      return json(200, {
        keys: [{ kty: "OKP", crv: "Ed25519", x: `${jwk.x}=`, kid: "fake-1", use: "sig" }],
      });
    }
    if (path === "/api/openapi/queue/openapi.json") {
      const endpoint = url.searchParams.get("endpoint_id") ?? "";
      if (!endpoint || fake.noSchema.has(endpoint)) return json(404, { detail: "Not found" });
      return json(200, openApiOf(endpoint));
    }
    if (path.startsWith("/files/")) return serveFile(url);
    if (req.headers.get("authorization") !== `Key ${fake.key}`) {
      return json(401, { detail: "Cannot access application: invalid key" });
    }
    let m: RegExpMatchArray | null;
    if ((m = path.match(/^\/([^/]+\/[^/]+)\/requests\/([^/]+)(\/status|\/cancel)?$/))) {
      const r = queue.get(m[2]);
      if (!r || appOf(r.endpoint) !== m[1]) return json(404, { detail: "Request not found" });
      if (m[3] === "/status" && req.method === "GET") {
        const failure = statusFailures.shift();
        if (failure) return json(failure.status, { detail: `Injected failure ${failure.status}` });
        const state = stateOf(r);
        const logs = url.searchParams.get("logs") === "1";
        const base = { request_id: r.id, ...urlsOf(r) };
        if (state.status === "IN_QUEUE") {
          return json(202, { status: "IN_QUEUE", queue_position: state.position, ...base });
        }
        if (state.status === "IN_PROGRESS") {
          return json(202, {
            status: "IN_PROGRESS",
            ...base,
            ...(logs ? { logs: logsOf(state.done) } : {}),
          });
        }
        return json(200, {
          status: "COMPLETED",
          ...base,
          ...(logs ? { logs: logsOf(state.done) } : {}),
          metrics: { inference_time: (state.endAt - state.runAt) / 1000 },
          ...(state.error ? { error: state.error, error_type: state.errorType } : {}),
        });
      }
      if (m[3] === "/cancel" && req.method === "PUT") {
        if (stateOf(r).status === "COMPLETED") return json(400, { status: "ALREADY_COMPLETED" });
        r.canceledAt = Date.now();
        scheduleWebhook(r, Date.now());
        return json(202, { status: "CANCELLATION_REQUESTED" });
      }
      if (m[3] === undefined && req.method === "GET") {
        const state = stateOf(r);
        if (state.status !== "COMPLETED") {
          return json(400, { detail: "Request is still in progress" });
        }
        if (state.error) return json(500, { detail: state.error });
        return json(200, resultOf(r));
      }
      return json(405, { detail: "Method not allowed" });
    }
    if (req.method === "POST" && /^\/[a-z0-9][\w.-]*(\/[\w.-]+){1,4}$/i.test(path)) {
      const failure = submitFailures.shift();
      if (failure) {
        return json(
          failure.status,
          { detail: `Injected failure ${failure.status}` },
          failure.retryAfter ? { "retry-after": failure.retryAfter } : {},
        );
      }
      if (!isRecord(body)) {
        return json(422, { detail: [{ loc: ["body"], msg: "expected an object" }] });
      }
      const r: FalRequest = {
        id: crypto.randomUUID(),
        endpoint: path.slice(1),
        input: body,
        createdAt: Date.now(),
        webhook: url.searchParams.get("fal_webhook"),
        canceledAt: null,
      };
      queue.set(r.id, r);
      submitted++;
      scheduleWebhook(r, r.createdAt + fake.queueMs + fake.latencyMs);
      return json(200, {
        request_id: r.id,
        gateway_request_id: r.id,
        ...urlsOf(r),
        queue_position: fake.queueMs > 0 ? fake.queueAhead - 1 : 0,
      });
    }
    return json(404, { detail: "Not found" });
  }

  function serveFile(url: URL): Response {
    if (fake.outputStatus !== null) {
      return new Response(`Status ${fake.outputStatus}`, { status: fake.outputStatus });
    }
    const m = url.pathname.match(/^\/files\/([^/]+)\/(\d+)\.png$/);
    const r = m ? queue.get(m[1]) : undefined;
    if (!m || !r) return new Response("Not Found", { status: 404 });
    const width = Number(url.searchParams.get("w") ?? 64);
    const height = Number(url.searchParams.get("h") ?? 64);
    const png = makePng(width, height, Number(m[2]));
    return new Response(png, {
      headers: { "content-type": "image/png", "content-length": String(png.byteLength) },
    });
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

/** A small OpenAPI document like the ones fal publishes per endpoint. */
function openApiOf(endpoint: string) {
  const name = endpoint.replaceAll("/", "_");
  return {
    openapi: "3.0.4",
    info: {
      title: "Queue OpenAPI for " + endpoint,
      version: "1.0.0",
      "x-fal-metadata": { endpointId: endpoint },
    },
    paths: {
      [`/${endpoint}`]: {
        post: {
          requestBody: {
            required: true,
            content: {
              "application/json": { schema: { $ref: `#/components/schemas/${name}_Input` } },
            },
          },
        },
      },
    },
    components: {
      schemas: {
        [`${name}_Input`]: {
          title: "Input",
          type: "object",
          required: ["prompt"],
          "x-fal-order-properties": ["prompt", "image_size", "num_images", "seed"],
          properties: {
            prompt: { type: "string", title: "Prompt" },
            image_size: {
              anyOf: [{ $ref: "#/components/schemas/ImageSize" }, {
                type: "string",
                enum: Object.keys(PRESETS),
              }],
              default: "landscape_4_3",
            },
            num_images: { type: "integer", minimum: 1, maximum: 4, default: 1 },
            seed: { type: "integer" },
            output_format: { type: "string", enum: ["jpeg", "png"], default: "jpeg" },
            acceleration: {
              type: "string",
              enum: ["none", "regular", "high"],
              default: "none",
              description: "The speed of the generation.",
            },
          },
        },
        ImageSize: {
          type: "object",
          properties: {
            width: { type: "integer", maximum: 14142 },
            height: { type: "integer", maximum: 14142 },
          },
        },
      },
    },
  };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
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

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function hex(buffer: ArrayBuffer): string {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}
