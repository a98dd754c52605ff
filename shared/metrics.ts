/**
 * Prometheus metrics (npm:prom-client), one registry per process. The API records HTTP traffic
 * and reads queue depth and job counts at scrape time; workers record job durations, queue
 * waits and provider calls. RSS comes from Deno.memoryUsage() (prom-client's own process gauges
 * read 0 under Deno's permissions).
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Db } from "./db/db.ts";
import { sql } from "./db/db.ts";
import type { JobQueue } from "./queue/queue.ts";
import { outboxSize } from "./jobs/outbox.ts";

export interface Metrics {
  registry: Registry;
  httpRequests: Counter<"method" | "route" | "status">;
  httpDuration: Histogram<"method" | "route">;
  jobDuration: Histogram<"model" | "status">;
  queueWait: Histogram<"model">;
  providerCalls: Counter<"provider" | "operation" | "outcome">;
  jobsFinished: Counter<"model" | "status">;
  /** Estimated spend of the predictions this process finished (USD), by model and API key id. */
  spendUsd: Counter<"model" | "key">;
  /** Provider predict time of the predictions this process finished, by model. */
  predictSeconds: Counter<"model">;
  /** Prometheus text exposition. */
  render(): Promise<string>;
  contentType: string;
}

export interface MetricsSources {
  db?: Db;
  queue?: JobQueue;
  role: string;
}

/** Creates a registry with every Darkroom metric; gauges read `sources` when scraped. */
export function createMetrics(sources: MetricsSources): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ role: sources.role });
  const httpRequests = new Counter({
    name: "darkroom_http_requests_total",
    help: "HTTP requests by route and status",
    labelNames: ["method", "route", "status"] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: "darkroom_http_request_duration_seconds",
    help: "HTTP request latency",
    labelNames: ["method", "route"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const jobDuration = new Histogram({
    name: "darkroom_job_duration_seconds",
    help: "Time from a job's start to its end, by model and final status",
    labelNames: ["model", "status"] as const,
    buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800],
    registers: [registry],
  });
  const queueWait = new Histogram({
    name: "darkroom_queue_wait_seconds",
    help: "Time from submit to a worker starting the job",
    labelNames: ["model"] as const,
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const providerCalls = new Counter({
    name: "darkroom_provider_calls_total",
    help: "Provider calls by operation and outcome (ok, or the error kind)",
    labelNames: ["provider", "operation", "outcome"] as const,
    registers: [registry],
  });
  const jobsFinished = new Counter({
    name: "darkroom_jobs_finished_total",
    help: "Jobs this process finished, by model and status",
    labelNames: ["model", "status"] as const,
    registers: [registry],
  });
  const spendUsd = new Counter({
    name: "darkroom_spend_usd_total",
    help: "Estimated spend (USD) of the predictions this process finished, by model and API key " +
      "id (`none` for the open API)",
    labelNames: ["model", "key"] as const,
    registers: [registry],
  });
  const predictSeconds = new Counter({
    name: "darkroom_predict_seconds_total",
    help: "Provider predict time (seconds) of the predictions this process finished, by model",
    labelNames: ["model"] as const,
    registers: [registry],
  });
  new Gauge({
    name: "darkroom_process_resident_memory_bytes",
    help: "Resident set size of this process",
    registers: [registry],
    collect() {
      this.set(Deno.memoryUsage().rss);
    },
  });
  if (sources.queue) {
    const queue = sources.queue;
    new Gauge({
      name: "darkroom_queue_jobs",
      help: "Queue depth by state",
      labelNames: ["state"] as const,
      registers: [registry],
      async collect() {
        try {
          const s = await queue.stats();
          for (const state of ["waiting", "active", "delayed", "failed"] as const) {
            this.set({ state }, s[state]);
          }
        } catch {
          // Unreachable queue: leave the last values; /health says why.
        }
      },
    });
  }
  if (sources.db) {
    const db = sources.db;
    new Gauge({
      name: "darkroom_jobs",
      help: "Jobs in the database by status and model",
      labelNames: ["status", "model"] as const,
      registers: [registry],
      async collect() {
        try {
          const rows = await db.query<{ status: string; model: string; n: number }>(
            sql`SELECT status, model, count(*)::int AS n FROM jobs GROUP BY status, model`,
          );
          this.reset();
          for (const r of rows) this.set({ status: r.status, model: r.model }, r.n);
        } catch {
          // Database away: /health reports it.
        }
      },
    });
    new Gauge({
      name: "darkroom_outbox_jobs",
      help: "Accepted jobs waiting in Postgres for the queue to come back (0 while it is up)",
      registers: [registry],
      async collect() {
        try {
          this.set(await outboxSize(db));
        } catch {
          // Database away: /health reports it.
        }
      },
    });
  }
  return {
    registry,
    httpRequests,
    httpDuration,
    jobDuration,
    queueWait,
    providerCalls,
    jobsFinished,
    spendUsd,
    predictSeconds,
    render: () => registry.metrics(),
    contentType: registry.contentType,
  };
}
