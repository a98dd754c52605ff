import assert from "node:assert/strict";
import {
  ApiError,
  authHeaders,
  connectLiveFeed,
  createApiClient,
  type EventSourceLike,
  type FeedState,
  type JobJson,
  type LiveFeedOptions,
  parseRetryAfter,
  uploadIdOf,
  withAccessToken,
} from "./api_client.ts";

function fakeFetch(answer: (url: string, init?: RequestInit) => Response) {
  const calls: { url: string; init?: RequestInit }[] = [];
  const fn = (input: RequestInfo | URL, init?: RequestInit) => {
    calls.push({ url: String(input), init });
    return Promise.resolve(answer(String(input), init));
  };
  return { fn: fn as typeof fetch, calls };
}

Deno.test("generate posts JSON; errors carry code, message and details", async () => {
  const { fn, calls } = fakeFetch((url) =>
    url.endsWith("/generate")
      ? Response.json({
        error: {
          code: "validation_error",
          message: "Request body is invalid",
          details: [{ field: "parameters.width", message: "must be at most 2048" }],
        },
      }, { status: 422 })
      : new Response("nope", { status: 500, statusText: "Internal Server Error" })
  );
  const client = createApiClient({ base: "/api/v1", fetch: fn });
  const err = await client.generate({ prompt: "p", model: "local/aurora", parameters: {} })
    .catch((e) => e);
  assert.ok(err instanceof ApiError);
  assert.equal(err.status, 422);
  assert.equal(err.code, "validation_error");
  assert.deepEqual(err.details, [{ field: "parameters.width", message: "must be at most 2048" }]);
  assert.equal(calls[0].url, "/api/v1/generate");
  assert.equal(calls[0].init?.method, "POST");
  assert.deepEqual(JSON.parse(String(calls[0].init?.body)), {
    prompt: "p",
    model: "local/aurora",
    parameters: {},
  });
  const plain = await client.models().catch((e) => e);
  assert.equal(plain.status, 500);
  assert.match(plain.message, /500/);
});

Deno.test("listJobs sends skip/limit/status and reads X-Total-Count", async () => {
  const { fn, calls } = fakeFetch(() => Response.json([], { headers: { "X-Total-Count": "57" } }));
  const client = createApiClient({ fetch: fn });
  const r = await client.listJobs({ skip: 24, limit: 24, status: "failed" });
  assert.equal(r.total, 57);
  assert.equal(calls[0].url, "/api/v1/jobs?skip=24&limit=24&status=failed");
  const noHeader = createApiClient({ fetch: fakeFetch(() => Response.json([])).fn });
  assert.equal((await noHeader.listJobs({ skip: 0, limit: 1 })).total, null);
});

Deno.test("job ids are encoded; a network failure is an ApiError with status 0", async () => {
  const { fn, calls } = fakeFetch(() => Response.json({}));
  await createApiClient({ fetch: fn }).getJob("a/b?c");
  assert.equal(calls[0].url, "/api/v1/status/a%2Fb%3Fc");
  const down = createApiClient({ fetch: () => Promise.reject(new TypeError("Failed to fetch")) });
  const err = await down.stats().catch((e) => e);
  assert.ok(err instanceof ApiError);
  assert.equal(err.status, 0);
  const health = createApiClient({
    fetch: fakeFetch(() => Response.json({ status: "unavailable" }, { status: 503 })).fn,
  });
  assert.equal((await health.health()).status, "unavailable");
});

Deno.test("the key goes in Authorization on every call; SSE URLs carry it as access_token", async () => {
  assert.deepEqual(authHeaders(null), {});
  assert.deepEqual(authHeaders("dr_abc"), { authorization: "Bearer dr_abc" });
  assert.equal(withAccessToken("/api/v1/events", null), "/api/v1/events");
  assert.equal(
    withAccessToken("/api/v1/events", "dr_a+b/c"),
    "/api/v1/events?access_token=dr_a%2Bb%2Fc",
  );
  assert.equal(withAccessToken("/e?x=1", "k"), "/e?x=1&access_token=k");

  let key: string | null = "dr_one";
  const { fn, calls } = fakeFetch(() => Response.json([]));
  const client = createApiClient({ fetch: fn, key: () => key });
  const auth = (i: number) => new Headers(calls[i].init?.headers).get("authorization");
  await client.listJobs({ skip: 0, limit: 1 });
  await client.generate({ prompt: "p", model: "m", parameters: {} });
  key = "dr_two";
  await client.cancel("j");
  key = null;
  await client.models();
  assert.deepEqual([auth(0), auth(1), auth(2), auth(3)], [
    "Bearer dr_one",
    "Bearer dr_one",
    "Bearer dr_two",
    null,
  ]);
  assert.equal(new Headers(calls[1].init?.headers).get("content-type"), "application/json");
  // me(key) sends exactly that key (or none), whatever the current one is.
  key = "dr_current";
  await client.me("dr_candidate");
  await client.me(null);
  await client.me();
  assert.deepEqual([auth(4), auth(5), auth(6)], ["Bearer dr_candidate", null, "Bearer dr_current"]);
  assert.ok(calls.slice(4).every((c) => c.url === "/api/v1/me"));
});

Deno.test("a 401 is reported with the key it was sent with, except for me(key) checks", async () => {
  const reported: (string | null)[] = [];
  const { fn } = fakeFetch(() =>
    Response.json({ error: { code: "unauthorized", message: "The API key is not valid" } }, {
      status: 401,
      headers: { "WWW-Authenticate": "Bearer" },
    })
  );
  const client = createApiClient({
    fetch: fn,
    key: () => "dr_revoked",
    onUnauthorized: (k) => reported.push(k),
  });
  const err = await client.listJobs({ skip: 0, limit: 1 }).catch((e) => e);
  assert.ok(err instanceof ApiError);
  assert.equal(err.status, 401);
  assert.equal(err.code, "unauthorized");
  assert.doesNotMatch(err.message, /dr_revoked/, "the key never ends up in a message");
  await client.me().catch(() => {});
  assert.deepEqual(reported, ["dr_revoked", "dr_revoked"]);
  const checked = await client.me("dr_typed").catch((e) => e);
  assert.equal(checked.status, 401);
  assert.deepEqual(reported, ["dr_revoked", "dr_revoked"], "a candidate key is only rejected");
});

Deno.test("job actions: cancel and retry return the job, delete sends DELETE", async () => {
  const { fn, calls } = fakeFetch((url, init) =>
    init?.method === "DELETE"
      ? new Response(null, { status: 204 })
      : Response.json({ id: "j1", status: url.endsWith("/cancel") ? "canceled" : "pending" }, {
        status: url.endsWith("/retry") ? 202 : 200,
      })
  );
  const client = createApiClient({ fetch: fn });
  assert.equal((await client.cancel("j1"))?.status, "canceled");
  assert.equal((await client.retry("j1"))?.status, "pending");
  assert.equal(await client.deleteJob("j/1"), undefined);
  assert.deepEqual(calls.map((c) => [c.init?.method, c.url]), [
    ["POST", "/api/v1/jobs/j1/cancel"],
    ["POST", "/api/v1/jobs/j1/retry"],
    ["DELETE", "/api/v1/jobs/j%2F1"],
  ]);
  const conflict = createApiClient({
    fetch: fakeFetch(() =>
      Response.json({ error: { code: "conflict", message: "Job j1 is already completed" } }, {
        status: 409,
      })
    ).fn,
  });
  const err = await conflict.cancel("j1").catch((e) => e);
  assert.equal(err.status, 409);
  assert.equal(err.message, "Job j1 is already completed");
});

Deno.test("429: Retry-After is read as seconds or as a date", async () => {
  const client = createApiClient({
    fetch: fakeFetch(() =>
      Response.json({
        error: { code: "rate_limited", message: "Too many submits: at most 5 a minute" },
      }, { status: 429, headers: { "Retry-After": "17" } })
    ).fn,
  });
  const err = await client.generate({ prompt: "p", model: "m", parameters: {} }).catch((e) => e);
  assert.equal(err.status, 429);
  assert.equal(err.retryAfterS, 17);
  assert.equal(parseRetryAfter(null), null);
  assert.equal(parseRetryAfter(" 0 "), 0);
  assert.equal(parseRetryAfter("soon"), null);
  const now = Date.parse("2025-01-01T00:00:00Z");
  assert.equal(parseRetryAfter("Wed, 01 Jan 2025 00:00:30 GMT", now), 30);
  assert.equal(parseRetryAfter("Tue, 31 Dec 2024 00:00:00 GMT", now), 0);
});

class FakeEventSource implements EventSourceLike {
  readyState = 0;
  onopen: ((ev: Event) => unknown) | null = null;
  onerror: ((ev: Event) => unknown) | null = null;
  listeners = new Map<string, (ev: MessageEvent) => void>();
  closed = false;
  addEventListener(type: string, fn: (ev: MessageEvent) => void) {
    this.listeners.set(type, fn);
  }
  close() {
    this.closed = true;
    this.readyState = 2;
  }
  open() {
    this.readyState = 1;
    this.onopen?.(new Event("open"));
  }
  fail(permanent: boolean) {
    this.readyState = permanent ? 2 : 0;
    this.onerror?.(new Event("error"));
  }
  emit(type: string, data: unknown) {
    this.listeners.get(type)?.(new MessageEvent(type, { data: JSON.stringify(data) }));
  }
}

/** A feed on fake EventSources and fake timers (run by hand). */
function fakeFeed(extra: Partial<LiveFeedOptions> = {}) {
  const sources: FakeEventSource[] = [];
  const timers: { fn: () => void; ms: number; id: number }[] = [];
  let nextId = 0;
  const f = {
    sources,
    timers,
    states: [] as FeedState[],
    got: [] as string[],
    deleted: [] as string[],
    polled: [] as string[],
    urls: [] as string[],
    resyncs: 0,
    refusals: 0,
    token: "k1",
    stop: () => {},
    /** Runs the timers due now (all of them, or those of `ms`). */
    async runTimers(ms?: number) {
      const due = timers.filter((t) => ms === undefined || t.ms === ms);
      for (const t of due) timers.splice(timers.indexOf(t), 1);
      for (const t of due) t.fn();
      await new Promise((r) => setTimeout(r, 0));
    },
    last: () => sources[sources.length - 1],
  };
  f.stop = connectLiveFeed({
    url: () => `/api/v1/events?access_token=${f.token}`,
    client: {
      getJob: (id) => {
        f.polled.push(id);
        return Promise.resolve({ id, status: "processing" } as JobJson);
      },
    },
    onJob: (j) => f.got.push(j.id),
    onJobDeleted: (id) => f.deleted.push(id),
    onState: (s) => f.states.push(s),
    runningIds: () => ["r1"],
    onResync: () => f.resyncs++,
    onRefused: () => f.refusals++,
    createEventSource: (url) => {
      f.urls.push(url);
      const es = new FakeEventSource();
      sources.push(es);
      return es;
    },
    random: () => 0,
    setTimeout: ((fn: () => void, ms: number) => {
      timers.push({ fn, ms, id: ++nextId });
      return nextId;
    }) as unknown as typeof setTimeout,
    clearTimeout: ((id: number) => {
      const i = timers.findIndex((t) => t.id === id);
      if (i >= 0) timers.splice(i, 1);
    }) as unknown as typeof clearTimeout,
    ...extra,
  });
  return f;
}

Deno.test("live feed: SSE events, polling only while SSE is down, reopen after 1 s, 2 s, 5 s", async () => {
  const f = fakeFeed();
  assert.deepEqual(f.states, ["connecting"]);
  f.sources[0].open();
  f.sources[0].emit("job", { id: "j1", status: "completed" });
  f.sources[0].emit("job_deleted", { id: "j0" });
  f.sources[0].emit("job", "not json at all");
  assert.deepEqual(f.got, ["j1"]);
  assert.deepEqual(f.deleted, ["j0"]);
  assert.equal(f.timers.length, 0, "no polling while SSE is open");

  // A transient error: the stream is closed (its own retries never back off) and reopened by
  // us after 1 s; meanwhile running jobs are polled.
  f.sources[0].fail(false);
  assert.equal(f.sources[0].closed, true);
  assert.equal(f.states.at(-1), "polling");
  assert.deepEqual(f.timers.map((t) => t.ms).sort((a, b) => a - b), [0, 1000]);
  await f.runTimers(0);
  assert.deepEqual(f.polled, ["r1"]);
  // Each failure in a row waits longer: 1 s, 2 s, 5 s.
  for (const wait of [1000, 2000, 5000]) {
    assert.ok(f.timers.some((t) => t.ms === wait), `reopen after ${wait} ms`);
    await f.runTimers(wait);
    f.last().fail(false);
  }
  assert.equal(f.sources.length, 4);
  assert.ok(f.timers.some((t) => t.ms === 10_000), "then 10 s");
  await f.runTimers(10_000);
  f.last().open();
  assert.equal(f.states.at(-1), "live");
  assert.equal(f.resyncs, 1);
  assert.equal(f.timers.length, 0, "polling stopped once SSE is back");

  // Back to 1 s after a success. A refusal (e.g. 401 or 404) is reported too, and the reopen
  // uses the URL of the moment (the key may have changed meanwhile).
  assert.equal(f.refusals, 0, "a transient error is no refusal");
  f.last().fail(true);
  assert.equal(f.refusals, 1);
  assert.ok(f.timers.some((t) => t.ms === 1000), "reopen scheduled after 1 s");
  f.token = "k2";
  await f.runTimers(1000);
  assert.equal(f.urls.at(-1), "/api/v1/events?access_token=k2");
  assert.equal(f.urls[0], "/api/v1/events?access_token=k1");
  f.last().open();
  assert.equal(f.states.at(-1), "live");

  // The server says it is stopping: the same as a failure (reopen after 1 s).
  const before = f.sources.length;
  f.last().emit("shutdown", { reconnect_ms: 1000 });
  assert.equal(f.last().closed, true);
  assert.ok(f.timers.some((t) => t.ms === 1000));
  await f.runTimers(1000);
  assert.equal(f.sources.length, before + 1);

  f.stop();
  assert.equal(f.last().closed, true);
});

Deno.test("live feed: once a probe reaches the server again, the stream reopens at once", async () => {
  let up = false;
  let probes = 0;
  const f = fakeFeed({
    probe: () => {
      probes++;
      return Promise.resolve(up);
    },
    probeMs: 1500,
  });
  f.sources[0].open();
  // Down for a while: the reopen waits grow, the probe keeps asking every 1.5 s.
  f.sources[0].fail(false);
  await f.runTimers(1000);
  f.last().fail(false);
  await f.runTimers(1500); // probe: unreachable
  assert.ok(f.timers.some((t) => t.ms === 2000), "next reopen in 2 s");
  const sources = f.sources.length;
  up = true;
  await f.runTimers(1500); // probe: the server answers again
  assert.ok(probes >= 2);
  assert.equal(f.sources.length, sources + 1, "reopened without waiting for the backoff");
  assert.ok(!f.timers.some((t) => t.ms === 2000), "the backoff step was dropped");
  f.last().open();
  assert.equal(f.states.at(-1), "live");
  assert.equal(f.timers.length, 0, "no probing while live");

  // A server that answers but refuses the stream is not hammered: the probe saw no change.
  f.last().fail(true);
  await f.runTimers(1500);
  assert.equal(f.sources.length, sources + 1, "waits for the backoff");
  f.stop();
});

Deno.test("usage asks /usage with the range and grouping, and a 402 keeps its figures", async () => {
  const { fn, calls } = fakeFetch((url) =>
    url.includes("/usage") ? Response.json({ total_usd: 0.5, groups: [] }) : Response.json({
      error: {
        code: "budget_exceeded",
        message: "over budget",
        details: { budget_usd: 1, spent_usd: 0.99, estimate_usd: 0.04 },
      },
    }, { status: 402 })
  );
  const client = createApiClient({ base: "/api/v1", fetch: fn });
  const usage = await client.usage({ from: "2026-12-01", group_by: "model" });
  assert.equal(usage.total_usd, 0.5);
  assert.equal(calls[0].url, "/api/v1/usage?from=2026-12-01&group_by=model");
  const err = await client.generate({ prompt: "p", model: "a/b", parameters: {} }).catch((e) => e);
  assert.ok(err instanceof ApiError);
  assert.equal(err.status, 402);
  assert.equal(err.code, "budget_exceeded");
  assert.equal(err.message, "over budget");
});

Deno.test("model cards, uploads and their images; the key goes only to this site's uploads", async () => {
  const id = "9d2e7c41-0b6a-4f3e-8c5d-2a1b0c9d8e7f";
  const { fn, calls } = fakeFetch((url) =>
    url.startsWith("/uploads/")
      ? new Response(new Uint8Array([1, 2]), { headers: { "content-type": "image/png" } })
      : url.endsWith("/uploads")
      ? Response.json({ id, url: `/uploads/${id}` }, { status: 201 })
      : Response.json({ id: "a/b", input_schema: { type: "object", properties: {} } })
  );
  const client = createApiClient({ fetch: fn, key: () => "dr_k" });
  const version = "c".repeat(64);
  assert.equal((await client.model(`a/b:${version}`)).id, "a/b");
  assert.equal(calls[0].url, `/api/v1/models/a/b:${version}`);
  const image = new Blob([new Uint8Array([0x89, 0x50])], { type: "image/webp" });
  assert.equal((await client.upload(image)).url, `/uploads/${id}`);
  assert.equal(calls[1].url, "/api/v1/uploads");
  assert.equal(calls[1].init?.method, "POST");
  assert.equal(calls[1].init?.body, image, "the image itself is the body");
  assert.equal((calls[1].init?.headers as Record<string, string>)["content-type"], "image/webp");
  const blob = await client.uploadImage(`upload:${id}`);
  assert.equal(blob.size, 2);
  assert.equal(calls[2].url, `/uploads/${id}`);
  assert.equal((calls[2].init?.headers as Record<string, string>).authorization, "Bearer dr_k");
  assert.equal(uploadIdOf(`/uploads/${id.toUpperCase()}`), id);
  assert.equal(uploadIdOf("https://example.com/uploads/x"), null);
  const refused = await client.uploadImage("https://example.com/a.png").catch((e) => e);
  assert.ok(refused instanceof ApiError);
  assert.equal(calls.length, 3, "no request for a URL from elsewhere");
});

Deno.test("listJobs sends the library's filters and reads the next page's cursor", async () => {
  const { fn, calls } = fakeFetch(() =>
    Response.json([], {
      headers: {
        "X-Total-Count": "12000",
        "X-Total-Count-Estimated": "true",
        "X-Next-Cursor": "abc_-1",
      },
    })
  );
  const client = createApiClient({ fetch: fn });
  const r = await client.listJobs({
    limit: 24,
    status: "",
    q: "red car",
    model: "local/aurora",
    starred: true,
    collection: "c1",
    after: "2025-03-01T00:00:00.000Z",
    sort: "oldest",
    cursor: "xyz",
  });
  assert.deepEqual(r, { jobs: [], total: 12000, estimated: true, next: "abc_-1" });
  assert.equal(
    calls[0].url,
    "/api/v1/jobs?limit=24&q=red+car&model=local%2Faurora&starred=true&collection=c1" +
      "&after=2025-03-01T00%3A00%3A00.000Z&sort=oldest&cursor=xyz",
  );
});

Deno.test("stars, bulk actions and collections", async () => {
  const job = { id: "j1", starred: true };
  const { fn, calls } = fakeFetch((url, init) => {
    if (url.endsWith("/star")) {
      return init?.method === "DELETE" ? new Response(null, { status: 204 }) : Response.json(job);
    }
    if (url.endsWith("/jobs/bulk")) {
      return Response.json({
        results: [{ id: "j1", ok: true }, { id: "j2", ok: false, error: { message: "gone" } }],
      });
    }
    if (init?.method === "POST") return Response.json({ id: "c2", name: "Best" }, { status: 201 });
    return Response.json({ collections: [{ id: "c1", name: "Cats", job_count: 2 }] });
  });
  const client = createApiClient({ fetch: fn });
  assert.deepEqual(await client.star("j1", true), job);
  assert.equal(await client.star("j1", false), null);
  assert.deepEqual(calls.slice(0, 2).map((c) => [c.init?.method, c.url]), [
    ["POST", "/api/v1/jobs/j1/star"],
    ["DELETE", "/api/v1/jobs/j1/star"],
  ]);
  assert.deepEqual(await client.bulk({ ids: ["j1", "j2"], action: "star" }), {
    results: [{ id: "j1", ok: true }, { id: "j2", ok: false, error: { message: "gone" } }],
  });
  assert.deepEqual(JSON.parse(String(calls[2].init?.body)), { ids: ["j1", "j2"], action: "star" });
  assert.deepEqual(await client.collections(), [{ id: "c1", name: "Cats", job_count: 2 }]);
  assert.deepEqual(await client.createCollection("Best"), { id: "c2", name: "Best" });
  assert.deepEqual(JSON.parse(String(calls[4].init?.body)), { name: "Best" });
});
