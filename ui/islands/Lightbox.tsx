/** The lightbox: full images, every setting and timing, download, copy, reuse; a modal dialog. */
import { useSignal } from "@preact/signals";
import { useEffect, useRef } from "preact/hooks";
import { CopyButton } from "../components/CopyButton.tsx";
import { Icon } from "../components/Icon.tsx";
import { JobActions } from "../components/JobActions.tsx";
import { JobProgress } from "../components/JobProgress.tsx";
import { LIBRARY_ICONS } from "../components/library_icons.ts";
import { RelativeTime } from "../components/RelativeTime.tsx";
import { StatusBadge } from "../components/StatusBadge.tsx";
import { draft, draftFromJob, fieldErrors, focusPromptRequest } from "../state/form.ts";
import { fileNameFromPrompt } from "../state/download_name.ts";
import { formatBytes, formatDuration, formatExact, secondsBetween } from "../state/format.ts";
import { onImageError, onImageLoad, thumbnailSize } from "../state/images.ts";
import { type Job, jobSize, jobsStore } from "../state/jobs.ts";
import { setStar } from "../state/library.ts";
import { libraryDeps } from "../state/library_page.ts";
import { closeLightbox, lightbox } from "../state/lightbox.ts";
import { api, receiveJob, sessionReady } from "../state/live.ts";
import { navigate } from "../state/url.ts";
import { formatUsd } from "../state/usage.ts";

export interface LightboxProps {
  /** Accessible name prefix of the dialog. */
  label?: string;
}

const FOCUSABLE = 'a[href], button:not([disabled]), input, select, textarea, [tabindex="0"]';

function Row({ name, value, copy }: { name: string; value: string; copy?: boolean }) {
  if (!value) return null;
  return (
    <div class="kv">
      <dt>{name}</dt>
      <dd>
        <span class="kv-value">{value}</span>
        {copy && <CopyButton text={value} label={`Copy ${name.toLowerCase()}`} />}
      </dd>
    </div>
  );
}

/** The job's estimated cost, or why there is none yet. */
function costText(job: Job): string {
  if (job.cost_usd !== null && job.cost_usd !== undefined) {
    return `${formatUsd(job.cost_usd)} (estimate)`;
  }
  return job.status === "pending" || job.status === "processing" ? "known when it ends" : "unknown";
}

function paramText(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** Moves through the images of the current job, then on to the next/previous job of the list. */
function step(delta: 1 | -1) {
  const t = lightbox.value;
  if (!t) return;
  const byId = jobsStore.byId.value;
  const count = (id: string) => Math.max(1, byId.get(id)?.images.length ?? 1);
  const index = t.index + delta;
  if (index >= 0 && index < count(t.jobId)) {
    lightbox.value = { ...t, index };
    return;
  }
  const at = t.list.indexOf(t.jobId);
  const nextId = t.list[at + delta];
  if (at < 0 || !nextId) return;
  lightbox.value = { ...t, jobId: nextId, index: delta > 0 ? 0 : count(nextId) - 1 };
  navigate({ job: nextId });
}

export default function Lightbox({ label = "Image details" }: LightboxProps) {
  const dialogRef = useRef<HTMLDivElement>(null);
  const missing = useSignal<string | null>(null);
  const t = lightbox.value;
  const job: Job | undefined = t ? jobsStore.byId.value.get(t.jobId) : undefined;

  // Opened from a URL (?job=...) for a job the page does not hold yet: fetch it (once the key
  // check allows calls).
  const ready = sessionReady();
  useEffect(() => {
    if (!t || job || !ready) return;
    missing.value = null;
    api.getJob(t.jobId).then(receiveJob).catch((err: Error) => missing.value = err.message);
  }, [t?.jobId, !!job, ready]);

  useEffect(() => {
    if (!t) return;
    document.body.classList.add("modal-open");
    return () => document.body.classList.remove("modal-open");
  }, [!!t]);

  // On opening, and when the job changes under the focus (e.g. it was deleted from here).
  useEffect(() => {
    const el = dialogRef.current;
    if (t && el && !el.contains(document.activeElement)) {
      el.querySelector<HTMLElement>(".lb-close")?.focus();
    }
  }, [t?.jobId]);

  if (!t) return null;

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === "Escape") {
      e.preventDefault();
      closeLightbox();
    } else if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
      const tag = (e.target as HTMLElement).tagName;
      if (tag === "INPUT" || tag === "TEXTAREA") return;
      e.preventDefault();
      step(e.key === "ArrowRight" ? 1 : -1);
    } else if (e.key === "Tab") {
      const items = [...(dialogRef.current?.querySelectorAll<HTMLElement>(FOCUSABLE) ?? [])]
        .filter((x) => x.offsetParent !== null || x === document.activeElement);
      if (!items.length) return;
      const first = items[0];
      const last = items[items.length - 1];
      if (e.shiftKey && document.activeElement === first) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && document.activeElement === last) {
        e.preventDefault();
        first.focus();
      }
    }
  };

  const reuse = (j: Job) => {
    draft.value = draftFromJob(j, draft.value);
    fieldErrors.value = {};
    closeLightbox();
    navigate({ tab: "generate" }, { push: true });
    focusPromptRequest.value++;
  };

  const n = job?.images.length ?? 0;
  const img = job?.images[Math.min(t.index, Math.max(0, n - 1))];
  const pos = t.list.indexOf(t.jobId);
  const canPrev = t.index > 0 || pos > 0;
  const canNext = (n > 0 && t.index < n - 1) || (pos >= 0 && pos < t.list.length - 1);
  const size = job ? jobSize(job) : { width: 1024, height: 1024 };
  const p = job?.parameters ?? {};
  const { width: _w, height: _h, seed, num_outputs: _n, ...otherParams } = p;
  const fileName = job && img
    ? fileNameFromPrompt(job.prompt, {
      id: job.id,
      index: t.index,
      count: n,
      contentType: img.content_type,
    })
    : "";

  return (
    <div
      class="lb-backdrop"
      onClick={(e) => {
        if (e.target === e.currentTarget) closeLightbox();
      }}
    >
      <div
        ref={dialogRef}
        class="lb"
        role="dialog"
        aria-modal="true"
        aria-labelledby="lb-title"
        onKeyDown={onKeyDown}
      >
        <div class={n > 1 ? "lb-stage has-strip" : "lb-stage"}>
          {img
            ? (
              <img
                key={img.url}
                class="lb-img"
                src={img.url}
                width={img.width ?? size.width}
                height={img.height ?? size.height}
                alt={job!.prompt}
                onError={(e) => onImageError(e.currentTarget, img.url)}
                onLoad={(e) => onImageLoad(e.currentTarget)}
              />
            )
            : (
              <div class="lb-empty">
                {job
                  ? job.status === "failed"
                    ? <p>No image: the job failed.</p>
                    : job.status === "canceled"
                    ? <p>No image: the job was canceled.</p>
                    : (
                      <JobProgress
                        job={job}
                        position={jobsStore.queuePositions.value.get(job.id)}
                      />
                    )
                  : <p>{missing.value ? `Cannot load this job: ${missing.value}` : "Loading…"}</p>}
              </div>
            )}
          <button
            type="button"
            class="btn btn-icon lb-nav lb-prev"
            aria-label="Previous image"
            disabled={!canPrev}
            onClick={() => step(-1)}
          >
            <Icon name="chevronLeft" size={22} />
          </button>
          <button
            type="button"
            class="btn btn-icon lb-nav lb-next"
            aria-label="Next image"
            disabled={!canNext}
            onClick={() => step(1)}
          >
            <Icon name="chevronRight" size={22} />
          </button>
          {n > 1 && job && (
            <div class="lb-strip" role="group" aria-label="Images of this job">
              <span class="lb-counter">{t.index + 1} / {n}</span>
              {job.images.map((im, i) => {
                const thumb = thumbnailSize(im.width ?? size.width, im.height ?? size.height);
                return (
                  <button
                    key={im.url}
                    type="button"
                    class="lb-strip-item"
                    aria-label={`Show image ${i + 1} of ${n}`}
                    aria-current={i === t.index ? "true" : undefined}
                    onClick={() => lightbox.value = { ...t, index: i }}
                  >
                    <img
                      loading="lazy"
                      decoding="async"
                      width={thumb.width}
                      height={thumb.height}
                      src={im.thumbnail_url || im.url}
                      alt=""
                      onError={(e) => onImageError(e.currentTarget, im.url)}
                      onLoad={(e) => onImageLoad(e.currentTarget)}
                    />
                  </button>
                );
              })}
            </div>
          )}
        </div>

        <aside class="lb-side">
          <div class="lb-head">
            <h2 id="lb-title">{label}</h2>
            <button
              type="button"
              class="btn btn-icon lb-close"
              aria-label="Close (Esc)"
              onClick={closeLightbox}
            >
              <Icon name="x" />
            </button>
          </div>
          {job && (
            <>
              <div class="card-meta">
                <StatusBadge status={job.status} />
                <RelativeTime iso={job.created_at} />
              </div>
              {(job.status === "processing" || job.status === "pending") && img && (
                <JobProgress job={job} />
              )}
              {job.status === "failed" && job.error_message && (
                <p class="error-text">{job.error_message}</p>
              )}
              <div class="lb-block">
                <div class="lb-block-head">
                  <h3>Prompt</h3>
                  <CopyButton text={job.prompt} label="Copy prompt" showLabel />
                </div>
                <p class="lb-prompt">{job.prompt}</p>
                {job.negative_prompt && (
                  <>
                    <div class="lb-block-head">
                      <h3>Negative prompt</h3>
                      <CopyButton text={job.negative_prompt} label="Copy negative prompt" />
                    </div>
                    <p class="lb-prompt muted">{job.negative_prompt}</p>
                  </>
                )}
              </div>
              <div class="lb-actions">
                {img && (
                  <a class="btn btn-primary" href={img.url} download={fileName}>
                    <Icon name="download" /> Download
                  </a>
                )}
                {job.starred !== undefined && !job.local && (
                  <button
                    type="button"
                    class={job.starred ? "btn lb-star on" : "btn lb-star"}
                    aria-pressed={job.starred}
                    onClick={() => void setStar(libraryDeps, job, !job.starred)}
                  >
                    <Icon d={LIBRARY_ICONS.star} /> {job.starred ? "Starred" : "Star"}
                  </button>
                )}
                <button type="button" class="btn" onClick={() => reuse(job)}>
                  <Icon name="reuse" /> Reuse settings
                </button>
                <JobActions job={job} />
              </div>
              <div class="lb-block">
                <div class="lb-block-head">
                  <h3>Settings</h3>
                  <CopyButton
                    text={JSON.stringify(
                      {
                        prompt: job.prompt,
                        negative_prompt: job.negative_prompt ?? undefined,
                        model: job.model,
                        parameters: job.parameters,
                        priority: job.priority,
                      },
                      null,
                      2,
                    )}
                    label="Copy as JSON"
                    showLabel
                  />
                </div>
                <dl class="kvs">
                  <Row name="Model" value={job.model} copy />
                  <Row
                    name="Served by"
                    value={job.provider_model && job.provider_model !== job.model
                      ? `${job.provider_model} (${job.provider})`
                      : job.provider ?? ""}
                  />
                  <Row name="Route" value={job.route ?? ""} />
                  <Row
                    name="Size"
                    value={p.width && p.height ? `${p.width} × ${p.height}` : ""}
                  />
                  <Row name="Images" value={p.num_outputs ? String(p.num_outputs) : ""} />
                  <Row name="Seed" value={seed !== undefined ? String(seed) : ""} copy />
                  <Row name="Priority" value={job.priority ?? ""} />
                  {Object.entries(otherParams).map(([k, v]) => (
                    <Row key={k} name={k} value={paramText(v)} />
                  ))}
                </dl>
              </div>
              <div class="lb-block">
                <h3>Timings</h3>
                <dl class="kvs">
                  <Row name="Created" value={formatExact(job.created_at)} />
                  <Row name="Started" value={formatExact(job.started_at)} />
                  <Row name="Finished" value={formatExact(job.completed_at)} />
                  <Row
                    name="Waited"
                    value={formatDuration(secondsBetween(job.created_at, job.started_at))}
                  />
                  <Row
                    name="Ran"
                    value={formatDuration(
                      secondsBetween(job.started_at ?? job.created_at, job.completed_at),
                    )}
                  />
                  <Row
                    name="Retries"
                    value={job.retry_count ? String(job.retry_count) : ""}
                  />
                </dl>
              </div>
              <div class="lb-block">
                <h3>Cost</h3>
                <dl class="kvs">
                  <Row name="Cost" value={costText(job)} />
                  <Row name="Predict time" value={formatDuration(job.predict_time_s)} />
                  <Row
                    name="Predictions"
                    value={(job.predictions ?? 0) > 1 ? String(job.predictions) : ""}
                  />
                </dl>
              </div>
              {img && (
                <div class="lb-block">
                  <h3>Image</h3>
                  <dl class="kvs">
                    <Row
                      name="Pixels"
                      value={img.width && img.height ? `${img.width} × ${img.height}` : ""}
                    />
                    <Row name="Type" value={img.content_type} />
                    <Row name="File size" value={formatBytes(img.bytes)} />
                    <Row name="File name" value={fileName} />
                  </dl>
                </div>
              )}
              <dl class="kvs">
                <Row name="Job id" value={job.id} copy />
              </dl>
            </>
          )}
        </aside>
      </div>
    </div>
  );
}
