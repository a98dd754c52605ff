/**
 * Bull Board (the BullMQ dashboard) at `/admin/queues`, read-only: Postgres is the source of
 * truth for jobs, so retrying or removing BullMQ entries behind its back would leave the two out
 * of step; job control goes through the API. Only for the BullMQ backend: with the Deno KV queue
 * (`deno task start` without REDIS_URL) the same path answers a small page with the queue's counts
 * instead (`kvQueueRoutes`).
 */
import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { HonoAdapter } from "@bull-board/hono";
import { Queue } from "bullmq";
import { Hono } from "hono";
import { serveStatic } from "hono/deno";
import { Redis } from "ioredis";
import type { JobQueue, QueueMessage, QueueStats } from "../../shared/queue/queue.ts";
import { errorBody } from "../http_errors.ts";
import { UI_CSP } from "./ui.ts";

export interface AdminQueueOptions {
  redisUrl: string;
  /** Redis key prefix of the queue (QUEUE_PREFIX). */
  prefix: string;
  /** Queue name; "generate" as in shared/queue/bullmq.ts. */
  queueName?: string;
  /** Where the board is mounted (absolute path); default `/admin/queues`. */
  basePath?: string;
}

type ServerAdapter = Parameters<typeof createBullBoard>[0]["serverAdapter"];

/** The board's page: its own scripts, inline styles (React), data: icons; nothing external. */
export const ADMIN_QUEUES_CSP = "default-src 'self'; script-src 'self'; " +
  "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; " +
  "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; " +
  "frame-ancestors 'none'";

/** Bull Board's page loads IBM Plex from Google Fonts; the board works with the fallback fonts. */
const EXTERNAL_STYLESHEET = /<link\b[^>]*href="https?:\/\/[^"]*"[^>]*>\s*/gi;

/** The dashboard: an app of its own serving basePath (absolute paths), and its Redis connection. */
export function adminQueueRoutes(
  options: AdminQueueOptions,
): { path: string; app: Hono; close(): Promise<void> } {
  const basePath = (options.basePath ?? "/admin/queues").replace(/\/+$/, "");
  const connection = new Redis(options.redisUrl, {
    maxRetriesPerRequest: 1,
    connectTimeout: 3000,
  });
  // Errors reach the board's requests as failures; an unhandled "error" event would crash.
  connection.on("error", () => {});
  const queue = new Queue<QueueMessage>(options.queueName ?? "generate", {
    connection,
    prefix: options.prefix,
    skipWaitingForReady: true,
  });
  queue.on("error", () => {});

  const serverAdapter = new HonoAdapter(serveStatic).setBasePath(basePath);
  createBullBoard({
    queues: [new BullMQAdapter(queue, { readOnlyMode: true, allowRetries: false })],
    // @bull-board/hono 9.10.1 pins @bull-board/api 9.10.1 while deno.json has 9.10.2: the same
    // shapes, but TypeScript sees two declarations of BaseAdapter's private fields.
    serverAdapter: serverAdapter as unknown as ServerAdapter,
    options: { uiConfig: { boardTitle: "Darkroom queues" } },
  });

  // strict: false so `/admin/queues/` (the page's <base href>) and `/admin/queues` both match.
  const app = new Hono({ strict: false });
  app.use(`${basePath}/*`, async (c, next) => {
    await next();
    if (!c.res.headers.get("content-type")?.startsWith("text/html")) return;
    // Nothing may load from another origin: drop the web-font stylesheet from the page.
    const html = (await c.res.text()).replace(EXTERNAL_STYLESHEET, "");
    const headers = new Headers(c.res.headers);
    headers.delete("content-length");
    headers.set("Cache-Control", "no-store");
    headers.set("X-Content-Type-Options", "nosniff");
    headers.set("Referrer-Policy", "no-referrer");
    headers.set("X-Frame-Options", "DENY");
    headers.set("Content-Security-Policy", ADMIN_QUEUES_CSP);
    c.res = new Response(html, { status: c.res.status, headers });
  });
  app.route(basePath, serverAdapter.registerPlugin());

  // Served as an app of its own (see `mounted` in app.ts): the same JSON 404 as the API, and
  // errors go to the API's handler, which logs them and answers JSON.
  app.notFound((c) =>
    c.json(errorBody("not_found", `No route for ${c.req.method} ${c.req.path}`), 404)
  );
  app.onError((err) => {
    throw err;
  });

  return {
    path: basePath,
    app,
    async close() {
      await queue.close();
      // The connection was passed in, so BullMQ leaves it open.
      connection.disconnect();
    },
  };
}

/** The counts shown on the Deno KV queue's page, in this order. */
const KV_STATES: (keyof QueueStats)[] = ["waiting", "active", "delayed", "failed", "completed"];

/**
 * What `/admin/queues` answers with the Deno KV queue: a page (no script, the UI's policy) saying
 * Bull Board needs the BullMQ queue on Redis, with the KV queue's counts (kept in memory, so
 * cheap). Deeper paths answer the API's JSON 404.
 */
export function kvQueueRoutes(
  queue: Pick<JobQueue, "stats">,
  options: { basePath?: string } = {},
): { path: string; app: Hono; close(): Promise<void> } {
  const basePath = (options.basePath ?? "/admin/queues").replace(/\/+$/, "");
  const app = new Hono({ strict: false });
  app.get(basePath, async (c) => {
    const stats = await queue.stats().catch(() => null);
    c.header("Cache-Control", "no-store");
    c.header("Content-Security-Policy", UI_CSP);
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "no-referrer");
    c.header("X-Frame-Options", "DENY");
    return c.html(kvQueuePage(stats));
  });
  app.notFound((c) =>
    c.json(errorBody("not_found", `No route for ${c.req.method} ${c.req.path}`), 404)
  );
  app.onError((err) => {
    throw err;
  });
  return { path: basePath, app, close: () => Promise.resolve() };
}

function kvQueuePage(stats: QueueStats | null): string {
  const counts = stats
    ? `<table><caption>Messages on the Deno KV queue</caption><tbody>
${
      KV_STATES.map((state) => `<tr><th scope="row">${state}</th><td>${stats[state]}</td></tr>`)
        .join("\n")
    }
</tbody></table>`
    : "<p>The queue's counts cannot be read right now.</p>";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Darkroom queues</title></head>
<body><main>
<h1>Darkroom queues</h1>
<p>This Darkroom queues its jobs on Deno KV (<code>deno task start</code> without
<code>REDIS_URL</code>). Bull Board, the queue dashboard served here, needs the Redis (BullMQ)
queue: set <code>REDIS_URL</code> and restart to get it.</p>
${counts}
<p>The jobs themselves are in <a href="/">the gallery</a>.</p>
</main></body></html>
`;
}
