import assert from "node:assert/strict";
import {
  ApiError,
  connectLiveFeed,
  createApiClient,
  type EventSourceLike,
  type FeedState,
  type JobJson,
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
  const stop = connectLiveFeed({
    url: "/api/v1/events",
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
    createEventSource: () => {
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

  // A refusal (e.g. 404): the source is closed and reopened later by us.
  sources[0].fail(true);
  assert.equal(sources[0].closed, true);
  assert.ok(timers.some((t) => t.ms === 2000), "reopen scheduled");
  await runTimers();
  assert.equal(sources.length, 2);
  sources[1].open();
  assert.equal(states.at(-1), "live");

  stop();
  assert.equal(sources[1].closed, true);
});
