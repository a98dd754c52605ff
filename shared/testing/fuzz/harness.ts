/**
 * Harness of the API fuzz tests: sends a request and asserts the universal properties (no 5xx,
 * no hang, a JSON error envelope on every 4xx), measures what a request wrote, counts cases, and
 * probes the event stream. The app is taken structurally (anything with Hono's `request`).
 */
import assert from "node:assert/strict";
import { sql } from "../../db/db.ts";
import type { JobEventHub } from "../../jobs/events.ts";
import { countJobs } from "../../jobs/repo.ts";
import type { TestDeps } from "../app_deps.ts";
import { withTimeout } from "../../timeout.ts";

/** The API's path prefix in the test app. */
export const PREFIX = "/api/v1";
const RUNS = 1000;
const REQUEST_TIMEOUT_MS = 10_000;

/** fast-check parameters: 1,000 runs, seeded from FUZZ_SEED when it is set (to replay a run). */
export function fuzzParams(): { numRuns: number; seed?: number } {
  const seedText = Deno.env.get("FUZZ_SEED");
  return { numRuns: RUNS, ...(seedText ? { seed: Number(seedText) } : {}) };
}

/** What the harness needs of the app: Hono's `app.request`. */
export interface FuzzApp {
  request(path: string, init?: RequestInit): Response | Promise<Response>;
}

/** Counts property executions (shrinking included) and prints them when the test ends. */
export class CaseCounter {
  readonly counts = new Map<string, number>();
  hit(endpoint: string): void {
    this.counts.set(endpoint, (this.counts.get(endpoint) ?? 0) + 1);
  }
  report(test: string): void {
    for (const [endpoint, n] of this.counts) console.log(`fuzz ${test}: ${endpoint}: ${n} cases`);
  }
}

/** Rejects with a "hang" error when the app gives no answer in time. */
function answerWithin<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return withTimeout(promise, ms, `hang: ${what} (no answer in ${ms} ms)`);
}

/** A request as the fuzz tests send it. */
export interface Sent {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Uint8Array<ArrayBuffer>;
}

/** A request in one line for failure messages (path and body cut short). */
export function describe(req: Sent): string {
  let body = "";
  if (typeof req.body === "string") {
    body = ` body(${req.body.length} chars)=${JSON.stringify(req.body.slice(0, 300))}`;
  } else if (req.body) {
    const hex = Array.from(req.body.slice(0, 64), (b) => b.toString(16).padStart(2, "0")).join("");
    body = ` body(${req.body.byteLength} bytes)=0x${hex}`;
  }
  const path = req.path.length > 300 ? `${req.path.slice(0, 300)}…(${req.path.length})` : req.path;
  return `${req.method} ${path} headers=${JSON.stringify(req.headers)}${body}`;
}

/** A response read in full; `json` is set for JSON answers. */
export interface Answer {
  status: number;
  headers: Headers;
  bytes: Uint8Array;
  text: string;
  json: unknown;
}

/** Sends a request; asserts the universal properties (no 5xx, no hang, JSON 4xx envelope). */
export async function send(app: FuzzApp, req: Sent): Promise<Answer> {
  const what = describe(req);
  const res = await answerWithin(
    Promise.resolve(app.request(req.path, {
      method: req.method,
      headers: req.headers,
      body: req.body,
    })),
    REQUEST_TIMEOUT_MS,
    what,
  );
  const bytes = new Uint8Array(
    await answerWithin(res.arrayBuffer(), REQUEST_TIMEOUT_MS, `body of ${what}`),
  );
  const text = new TextDecoder().decode(bytes);
  assert.ok(res.status < 500, `${what} answered ${res.status}: ${text.slice(0, 500)}`);
  let json: unknown = undefined;
  if (res.status >= 400) {
    const type = res.headers.get("content-type") ?? "";
    assert.match(
      type,
      /^application\/json\b/i,
      `${what} answered ${res.status} with content-type ${JSON.stringify(type)}: ${
        text.slice(0, 300)
      }`,
    );
    try {
      json = JSON.parse(text);
    } catch {
      assert.fail(`${what} answered ${res.status} with a non-JSON body: ${text.slice(0, 300)}`);
    }
    assertErrorEnvelope(json, `${what} answered ${res.status}`);
  } else if ((res.headers.get("content-type") ?? "").startsWith("application/json")) {
    json = JSON.parse(text);
  }
  return { status: res.status, headers: res.headers, bytes, text, json };
}

/** Asserts the `{"error":{"code","message"}}` envelope of every error answer. */
export function assertErrorEnvelope(body: unknown, what: string): void {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  assert.ok(
    error !== null && typeof error === "object" && typeof error.code === "string" &&
      typeof error.message === "string",
    `${what} without the {"error":{"code","message"}} envelope: ${JSON.stringify(body)}`,
  );
}

/** Asserts the answer's status is one of `expected` (or any 4xx). */
export function assertStatusIn(
  answer: Answer,
  expected: readonly number[] | "4xx",
  req: Sent,
): void {
  const ok = expected === "4xx"
    ? answer.status >= 400 && answer.status < 500
    : expected.includes(answer.status);
  assert.ok(
    ok,
    `${describe(req)} answered ${answer.status}, expected ${
      expected === "4xx" ? "4xx" : expected.join("/")
    }: ${answer.text.slice(0, 300)}`,
  );
}

/** How much a submission wrote, to compare before and after. */
export interface Footprint {
  jobs: number;
  keys: number;
  queued: number;
}

/** Everything a submission can write: job rows, idempotency keys, queue entries. */
export async function footprint(deps: TestDeps): Promise<Footprint> {
  const [jobs, keys, stats] = await Promise.all([
    countJobs(deps.db),
    deps.db.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM idempotency_keys`),
    deps.queue.stats(),
  ]);
  const queued = stats.waiting + stats.active + stats.delayed + stats.failed + stats.completed;
  return { jobs, keys: keys[0].n, queued };
}

/** Submits a valid job with this prompt; returns its id. */
export async function submit(app: FuzzApp, prompt: string): Promise<string> {
  const answer = await send(app, {
    method: "POST",
    path: `${PREFIX}/generate`,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ prompt, model: "local/abstract" }),
  });
  assert.equal(answer.status, 202, answer.text);
  return (answer.json as { job_id: string }).job_id;
}

/** One replay the hub was asked for, with its outcome (the error when it failed). */
export interface Replay {
  cursor: string;
  result: Promise<unknown>;
}

/** The real hub, observed: records each replay so a failing one is reported, not just logged. */
export function observedHub(hub: JobEventHub): { observed: JobEventHub; replays: Replay[] } {
  const replays: Replay[] = [];
  const observed: JobEventHub = {
    ...hub,
    replay(cursor) {
      const result = hub.replay(cursor);
      replays.push({ cursor, result: result.catch((err) => err) });
      return result;
    },
  };
  return { observed, replays };
}

async function readUntilReady(reader: ReadableStreamDefaultReader<Uint8Array>, what: string) {
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes("\n\n")) {
    const { done, value } = await answerWithin(reader.read(), REQUEST_TIMEOUT_MS, what);
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  return text;
}

/** Sends one SSE request; asserts it opens with "ready", its replay succeeds and it stays open. */
export async function probeEvents(
  app: FuzzApp,
  replays: Replay[],
  req: Sent,
): Promise<void> {
  const what = describe(req);
  replays.length = 0;
  const res = await answerWithin(
    Promise.resolve(app.request(req.path, { method: "GET", headers: req.headers })),
    REQUEST_TIMEOUT_MS,
    what,
  );
  if (res.status !== 200) {
    // Not a stream: the usual rules.
    const text = await res.text();
    assert.ok(res.status < 500, `${what} answered ${res.status}: ${text.slice(0, 300)}`);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json\b/i);
    assertErrorEnvelope(JSON.parse(text), `${what} answered ${res.status}`);
    return;
  }
  assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
  const reader = res.body!.getReader();
  try {
    const first = await readUntilReady(reader, what);
    assert.match(first, /^event: ready\n/, `${what}: first event ${JSON.stringify(first)}`);
    // Give the handler a moment to ask for the replay, then wait for the replay itself.
    for (let i = 0; i < 20 && replays.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 0));
    }
    for (const { cursor, result } of replays) {
      const outcome = await answerWithin(result, REQUEST_TIMEOUT_MS, `replay of ${what}`);
      assert.ok(
        !(outcome instanceof Error),
        `${what}: replay(${JSON.stringify(cursor)}) threw ${
          (outcome as Error)?.message
        }; the stream then ends right after "ready" and EventSource reconnects with the same id forever`,
      );
    }
    // The stream must stay open (a heartbeat comes every 15 s); a closed one means it failed.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const next = await Promise.race([
      reader.read(),
      new Promise<"open">((r) => (timer = setTimeout(() => r("open"), 3))),
    ]).finally(() => clearTimeout(timer));
    assert.ok(next === "open" || !next.done, `${what}: the event stream ended right after "ready"`);
  } finally {
    await reader.cancel().catch(() => {});
  }
}
