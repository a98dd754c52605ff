/** Architecture: a live diagram of how a job moves through the service, and how to scale it. */
import { useComputed, useSignal } from "@preact/signals";
import { useEffect, useLayoutEffect, useRef } from "preact/hooks";
import type { StatsJson } from "../api_client.ts";
import { ArchitectureDiagram } from "../components/ArchitectureDiagram.tsx";
import { diagramContent, layoutDiagram } from "../state/architecture.ts";
import { formatDuration } from "../state/format.ts";
import { api, sessionReady } from "../state/live.ts";
import { urlState } from "../state/url.ts";

export interface ArchitectureViewProps {
  /** Refresh interval of the live figures while the tab is visible. */
  refreshMs?: number;
}

export default function ArchitectureView({ refreshMs = 3000 }: ArchitectureViewProps) {
  const stats = useSignal<StatsJson | null>(null);
  const error = useSignal<string | null>(null);
  const updated = useSignal<number | null>(null);
  /** Width available to the diagram, in CSS pixels (0 until measured). */
  const width = useSignal(0);
  const frame = useRef<HTMLDivElement>(null);
  const visible = urlState.value.tab === "architecture";

  useEffect(() => {
    if (!visible) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const tick = async () => {
      if (!document.hidden && sessionReady()) {
        try {
          stats.value = await api.stats();
          error.value = null;
          updated.value = Date.now();
        } catch (err) {
          error.value = (err as Error).message;
        }
      }
      if (!stopped) timer = setTimeout(tick, refreshMs);
    };
    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [visible, refreshMs]);

  // The layout follows the space the figure has, not the window: measured before the first
  // paint, then on every resize (a hidden tab measures 0 and keeps the last layout).
  useLayoutEffect(() => {
    const el = frame.current;
    if (!el) return;
    const measure = (w: number) => {
      if (w > 0) width.value = Math.floor(w);
    };
    measure(el.clientWidth);
    const observer = new ResizeObserver((entries) => {
      for (const entry of entries) measure(entry.contentRect.width);
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  const content = useComputed(() => diagramContent(stats.value));
  const layout = useComputed(() =>
    width.value > 0 ? layoutDiagram(content.value, width.value) : null
  );
  const s = stats.value;
  const embedded = content.value.embedded;

  return (
    <section class="arch" aria-labelledby="arch-title">
      <div class="section-head">
        <h2 id="arch-title">Architecture</h2>
        <span class="muted" aria-live="polite">
          {error.value
            ? `Live figures unavailable (${error.value})`
            : updated.value && s?.scope === "key"
            ? "Live · your key's jobs only (queue and workers are for admin keys)"
            : updated.value
            ? "Live · refreshes every few seconds"
            : "Loading live figures…"}
        </span>
      </div>

      <figure class="diagram">
        <div class="diagram-frame" ref={frame}>
          {layout.value && (
            <ArchitectureDiagram
              layout={layout.value}
              label={`Browser to API to the database and the queue, workers, provider and storage. ${content.value.summary}`}
            />
          )}
        </div>
        <figcaption class="muted">
          Median run time in the last hour:{" "}
          <strong>{formatDuration(s?.median_duration_s ?? null) || "–"}</strong>
        </figcaption>
      </figure>

      {s && (
        <ul class="provider-health" aria-label="Providers">
          {s.providers.filter((p) => p.configured).map((p) => (
            <li key={p.name} class={p.status === "down" ? "down" : undefined}>
              <strong>{p.name}</strong> {p.status === "down"
                ? "down: new predictions go to the next provider of a route, or wait"
                : p.status === "probing"
                ? "probing: one request is testing it"
                : "taking work"}
              {p.status !== "up" && p.last_error && (
                <span class="muted" title={p.last_error}>· {p.last_error.slice(0, 140)}</span>
              )}
            </li>
          ))}
        </ul>
      )}

      <div class="arch-text">
        <div>
          <h3>How a job flows</h3>
          <ol>
            <li>
              <strong>Submit.</strong> <code>POST /api/v1/generate</code>{" "}
              validates the prompt and parameters, records the job as <em>pending</em>{" "}
              in the database and puts its id on the queue. The answer (202) comes at once.
            </li>
            <li>
              <strong>Run.</strong> A worker takes the id, marks the job <em>processing</em>{" "}
              and asks the provider for a prediction, reading its progress as it goes. A job on an
              alias (a model route) goes to its first healthy provider and moves to the next only
              when one never accepted the request; once a provider holds the prediction, the job
              stays there, so nothing is billed twice.
            </li>
            <li>
              <strong>Store.</strong>{" "}
              The worker downloads every output before the provider's links expire, checks it is an
              image, and writes it to storage.
            </li>
            <li>
              <strong>Done.</strong> The job is marked <em>completed</em>{" "}
              (or failed with the reason, after retries with backoff for temporary errors). This
              page hears every change over Server-Sent Events.
            </li>
          </ol>
        </div>
        <div>
          <h3>How to scale it</h3>
          <ul>
            {embedded && (
              <li>
                This instance runs embedded: PGlite and a Deno KV queue inside one process, with its
                data under <code>DATA_DIR</code>. To scale out, point <code>DATABASE_URL</code>{" "}
                at Postgres and <code>REDIS_URL</code> at Redis, then add processes as below.
              </li>
            )}
            <li>
              Run more <code>deno task worker</code>{" "}
              processes, on this machine or others: each takes <code>WORKER_CONCURRENCY</code>{" "}
              jobs at once, and the queue hands every job to exactly one of them.
            </li>
            <li>
              Every API and worker process must see the same <code>STORAGE_PATH</code>{" "}
              (a shared volume), the same database and the same Redis.
            </li>
            <li>
              Run several <code>deno task api</code>{" "}
              processes behind a load balancer; they keep no state of their own.
            </li>
            <li>
              Watch the queue: a growing <em>waiting</em>{" "}
              count with every slot busy means it is time for another worker.
            </li>
          </ul>
        </div>
      </div>
    </section>
  );
}
