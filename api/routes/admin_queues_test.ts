import assert from "node:assert/strict";
import type { Hono } from "hono";
import { Redis } from "ioredis";
import { launchChromium, recordedPage } from "../../shared/testing/browser.ts";
import { silentLogger } from "../../shared/logger.ts";
import { createBullmqQueue } from "../../shared/queue/bullmq.ts";
import { openKvQueue } from "../../shared/queue/kv.ts";
import type { JobQueue } from "../../shared/queue/queue.ts";
import { createTestDeps } from "../../shared/testing/app_deps.ts";
import { testQueuePrefix, testRedisUrl } from "../../shared/testing/db.ts";
import { createApp } from "../app.ts";
import { ADMIN_QUEUES_CSP, adminQueueRoutes, kvQueueRoutes } from "./admin_queues.ts";
import { UI_CSP } from "./ui.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const BASE = "/admin/queues";

interface Board {
  /** The board's own app, which createApp serves under its path. */
  app: Hono;
  queue: JobQueue;
  jobIds: string[];
}

/** A queue with one waiting and one delayed job under a prefix of the test's own. */
function withBoard(name: string, fn: (board: Board) => Promise<void>) {
  Deno.test({
    name,
    ...opts,
    fn: async () => {
      const redisUrl = testRedisUrl();
      const prefix = testQueuePrefix();
      const queue = createBullmqQueue({
        redisUrl,
        prefix,
        retry: { maxRetries: 1, backoffBase: 1 },
        logger: silentLogger,
      });
      const admin = adminQueueRoutes({ redisUrl, prefix });
      try {
        const jobIds = [crypto.randomUUID(), crypto.randomUUID()];
        await queue.enqueue({ jobId: jobIds[0] });
        await queue.enqueue({ jobId: jobIds[1] }, { delayMs: 600_000 });
        await fn({ app: admin.app, queue, jobIds });
      } finally {
        await admin.close();
        await queue.close();
        const redis = new Redis(redisUrl);
        const keys = await redis.keys(`${prefix}:*`);
        if (keys.length) await redis.del(...keys);
        redis.disconnect();
      }
    },
  });
}

withBoard("admin queues: the page is local HTML under a strict policy", async ({ app }) => {
  const res = await app.request(BASE);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
  assert.equal(res.headers.get("content-security-policy"), ADMIN_QUEUES_CSP);
  assert.equal(res.headers.get("x-frame-options"), "DENY");
  const html = await res.text();
  assert.match(html, new RegExp(`<base href="${BASE}/"`));
  // Bull Board's template links Google Fonts: the page must not.
  const urls = [...html.matchAll(/<(?:link|script)\b[^>]*(?:src|href)="([^"]+)"/g)].map((m) =>
    m[1]
  );
  assert.ok(urls.length >= 5, `urls: ${urls}`);
  for (const url of urls) {
    assert.doesNotMatch(url, /^(https?:)?\/\//, `external URL in the page: ${url}`);
  }
  assert.doesNotMatch(html, /fonts\.googleapis|https?:\/\/(?!www\.w3\.org)/);
  // Every file it references is served from here, with its type and no rewriting.
  const types: [RegExp, RegExp][] = [
    [/\.css$/, /^text\/css/],
    [/\.js$/, /^(text|application)\/javascript/],
    [/\.png$/, /^image\/png/],
    [/\.svg$/, /^image\/svg\+xml/],
  ];
  for (const url of urls) {
    const asset = await app.request(`${BASE}/${url}`);
    assert.equal(asset.status, 200, url);
    const type = types.find(([re]) => re.test(url));
    assert.ok(type, `unexpected asset ${url}`);
    assert.match(asset.headers.get("content-type") ?? "", type[1], url);
    assert.equal(asset.headers.get("content-security-policy"), null, url);
    assert.ok((await asset.arrayBuffer()).byteLength > 0, url);
  }
  // The slash form (the page's <base href>) and client-side routes load the same page.
  const slash = await app.request(`${BASE}/`);
  assert.equal(slash.status, 200);
  assert.match(await slash.text(), /<base href="\/admin\/queues\/"/);
  const deep = await app.request(`${BASE}/queue/generate`);
  assert.equal(deep.status, 200);
  assert.match(await deep.text(), /<base href="\/admin\/queues\/"/);
  const missing = await app.request(`${BASE}/static/js/nope.js`);
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
  const traversal = await app.request(`${BASE}/static/..%2F..%2Fpackage.json`);
  assert.equal(traversal.status, 404);
  await traversal.body?.cancel();
});

withBoard("admin queues: the API lists the queue with its counts, read-only", async (board) => {
  const res = await board.app.request(`${BASE}/api/queues?activeQueue=generate&status=latest`);
  assert.equal(res.status, 200);
  const { queues } = await res.json();
  assert.equal(queues.length, 1);
  const [queue] = queues;
  assert.equal(queue.name, "generate");
  assert.equal(queue.type, "bullmq");
  assert.equal(queue.readOnlyMode, true);
  assert.equal(queue.counts.waiting + queue.counts.prioritized, 1);
  assert.equal(queue.counts.delayed, 1);
  assert.deepEqual(
    queue.jobs.map((j: { id: string }) => j.id).sort(),
    [...board.jobIds].sort(),
  );
  // Only ids travel on the queue: nothing private shows on the board.
  for (const job of queue.jobs) assert.deepEqual(Object.keys(job.data), ["jobId"]);

  // Postgres owns the jobs: the board cannot change the queue behind its back.
  for (
    const [method, path] of [
      ["PUT", "/api/queues/generate/clean/waiting"],
      ["PUT", "/api/queues/generate/empty"],
      ["PUT", "/api/queues/generate/pause"],
      ["PUT", `/api/queues/generate/${board.jobIds[1]}/promote`],
      ["POST", "/api/queues/generate/add"],
    ]
  ) {
    const denied = await board.app.request(`${BASE}${path}`, { method });
    assert.equal(denied.status, 405, `${method} ${path}`);
    await denied.body?.cancel();
  }
  assert.deepEqual(await board.queue.stats(), {
    waiting: 1,
    active: 0,
    delayed: 1,
    failed: 0,
    completed: 0,
  });
});

withBoard("admin queues: the board renders in Chromium without leaving 127.0.0.1", async (b) => {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, b.app.fetch);
  const base = `http://127.0.0.1:${server.addr.port}`;
  const profile = await Deno.makeTempDir({ prefix: "darkroom-board-chromium-" });
  const context = await launchChromium({ profile: profile });
  try {
    const { page, record } = await recordedPage(context);
    const { requests, problems } = record;

    const response = await page.goto(`${base}${BASE}`, { waitUntil: "load" });
    assert.equal(response?.status(), 200);
    await page.getByText("2 Jobs").waitFor({ timeout: 30_000 });
    assert.ok(await page.getByText("generate").first().isVisible());

    // The queue's own page lists the jobs, without the actions a writable board offers.
    await page.goto(`${base}${BASE}/queue/generate?status=delayed`, { waitUntil: "load" });
    await page.getByText(b.jobIds[1]).first().waitFor({ timeout: 30_000 });
    assert.equal(
      await page.getByRole("button", {
        name: /^(Clean all|Retry all|Promote all|Promote|Retry|Clean)$/i,
      }).count(),
      0,
    );

    assert.ok(requests.some((u) => u.includes(`${BASE}/api/queues`)));
    const foreign = requests.filter((u) => {
      const url = new URL(u);
      return url.protocol !== "data:" && url.protocol !== "blob:" && url.hostname !== "127.0.0.1";
    });
    assert.deepEqual(foreign, [], "requests that left 127.0.0.1");
    assert.deepEqual(problems, [], "errors in the page");
  } finally {
    await context.close();
    await server.shutdown();
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
});

Deno.test({
  name: "admin queues: with the Deno KV queue, a page says Bull Board needs BullMQ, with counts",
  ...opts,
  fn: async () => {
    const deps = await createTestDeps();
    const queue = await openKvQueue({
      retry: { maxRetries: 1, backoffBase: 1 },
      logger: silentLogger,
    });
    const page = kvQueueRoutes(queue);
    try {
      await queue.enqueue({ jobId: crypto.randomUUID() });
      await queue.enqueue({ jobId: crypto.randomUUID() }, { delayMs: 600_000 });
      await queue.enqueue({ jobId: crypto.randomUUID() }, { delayMs: 600_000 });
      // Served by the app as `deno task start` serves it: the rest of the app's headers too.
      const app = createApp({ ...deps, queue, mounted: [page] });
      for (const path of [BASE, `${BASE}/`]) {
        const res = await app.request(path);
        assert.equal(res.status, 200, path);
        assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
        assert.equal(res.headers.get("content-security-policy"), UI_CSP);
        assert.equal(res.headers.get("x-content-type-options"), "nosniff");
        assert.equal(res.headers.get("x-frame-options"), "DENY");
        assert.equal(res.headers.get("referrer-policy"), "no-referrer");
        assert.equal(res.headers.get("cache-control"), "no-store");
        assert.match(res.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
        const html = await res.text();
        assert.match(html, /Bull Board/);
        assert.match(html, /BullMQ/);
        assert.match(html, /REDIS_URL/);
        assert.match(html, /<th scope="row">waiting<\/th><td>1<\/td>/);
        assert.match(html, /<th scope="row">delayed<\/th><td>2<\/td>/);
        assert.match(html, /<th scope="row">failed<\/th><td>0<\/td>/);
        // Nothing the policy would block, nothing from elsewhere.
        assert.doesNotMatch(html, /<script|<style|\sstyle=|\son[a-z]+=/i);
        assert.doesNotMatch(html, /https?:\/\//);
      }
      // Bull Board's JSON API and files are not there: the API's JSON 404.
      const api = await app.request(`${BASE}/api/queues`);
      assert.equal(api.status, 404);
      assert.equal((await api.json()).error.code, "not_found");
    } finally {
      await page.close();
      await queue.close();
      await deps.cleanup();
    }
  },
});
