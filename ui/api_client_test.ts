import assert from "node:assert/strict";
import {
  ApiError,
  authHeaders,
  connectLiveFeed,
  createApiClient,
  type EventSourceLike,
  type FeedState,
  type JobJson,
  parseRetryAfter,
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

Deno.test("live feed: SSE events, polling only while SSE is down, reopen after a refusal", async () => {
  const sources: FakeEventSource[] = [];
  const timers: { fn: () => void; ms: number; id: number }[] = [];
  let nextId = 0;
  const states: FeedState[] = [];
  const got: string[] = [];
  const deleted: string[] = [];
  const polled: string[] = [];
  let resyncs = 0;
  let refusals = 0;
  let token = "k1";
  const urls: string[] = [];
  const stop = connectLiveFeed({
    url: () => `/api/v1/events?access_token=${token}`,
    client: {
      getJob: (id) => {
        polled.push(id);
        return Promise.resolve({ id, status: "processing" } as JobJson);
      },
    },
    onJob: (j) => got.push(j.id),
    onJobDeleted: (id) => deleted.push(id),
    onState: (s) => states.push(s),
    runningIds: () => ["r1"],
    onResync: () => resyncs++,
    onRefused: () => refusals++,
    createEventSource: (url) => {
      urls.push(url);
      const es = new FakeEventSource();
      sources.push(es);
      return es;
    },
    setTimeout: ((fn: () => void, ms: number) => {
      timers.push({ fn, ms, id: ++nextId });
      return nextId;
    }) as unknown as typeof setTimeout,
    clearTimeout: ((id: number) => {
      const i = timers.findIndex((t) => t.id === id);
      if (i >= 0) timers.splice(i, 1);
    }) as unknown as typeof clearTimeout,
  });
  const runTimers = async () => {
    const due = timers.splice(0);
    for (const t of due) t.fn();
    await new Promise((r) => setTimeout(r, 0));
  };

  assert.deepEqual(states, ["connecting"]);
  sources[0].open();
  sources[0].emit("job", { id: "j1", status: "completed" });
  sources[0].emit("job_deleted", { id: "j0" });
  sources[0].emit("job", "not json at all");
  assert.deepEqual(got, ["j1"]);
  assert.deepEqual(deleted, ["j0"]);
  assert.equal(timers.length, 0, "no polling while SSE is open");

  // A transient error: the browser reconnects by itself; meanwhile running jobs are polled.
  sources[0].fail(false);
  assert.equal(states.at(-1), "polling");
  await runTimers();
  assert.deepEqual(polled, ["r1"]);
  assert.equal(timers.length, 1, "next poll scheduled");
  sources[0].open();
  assert.equal(states.at(-1), "live");
  assert.equal(resyncs, 1);
  assert.equal(timers.length, 0, "polling stopped once SSE is back");

  // A refusal (e.g. 401 or 404): reported, the source closed and reopened later by us, with
  // the URL of the moment (the key may have changed meanwhile).
  assert.equal(refusals, 0, "a transient error is no refusal");
  sources[0].fail(true);
  assert.equal(sources[0].closed, true);
  assert.equal(refusals, 1);
  assert.ok(timers.some((t) => t.ms === 2000), "reopen scheduled");
  token = "k2";
  await runTimers();
  assert.equal(sources.length, 2);
  assert.deepEqual(urls, ["/api/v1/events?access_token=k1", "/api/v1/events?access_token=k2"]);
  sources[1].open();
  assert.equal(states.at(-1), "live");

  stop();
  assert.equal(sources[1].closed, true);
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
