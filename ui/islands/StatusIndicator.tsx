/** Header pill: whether updates are live, and whether the service is healthy. */
import { feedState, health } from "../state/live.ts";

export interface StatusIndicatorProps {
  class?: string;
}

export default function StatusIndicator({ class: cls }: StatusIndicatorProps) {
  const feed = feedState.value;
  const h = health.value?.status;
  const queue = health.value?.checks.queue as { ok?: boolean } | undefined;
  // Degraded: the queue is away (jobs are still accepted and kept), or no worker is online.
  const queueAway = h === "degraded" && queue?.ok === false;
  const level = h === "unavailable"
    ? "bad"
    : h === "degraded" || feed === "polling"
    ? "warn"
    : "ok";
  const text = h === "unavailable"
    ? "Service unavailable"
    : queueAway
    ? "Queue offline"
    : h === "degraded"
    ? "No worker online"
    : feed === "live"
    ? "Live"
    : feed === "polling"
    ? "Reconnecting"
    : "Connecting";
  const detail = queueAway
    ? "The job queue cannot be reached: new jobs are accepted and kept, and start when it is back."
    : h === "degraded"
    ? "Jobs stay queued until a worker runs: start one with `deno task worker`."
    : feed === "polling"
    ? "The live event stream is unavailable; running jobs are polled instead."
    : "Updates arrive as they happen.";
  return (
    <span class={`pill pill-${level} ${cls ?? ""}`} title={detail}>
      <span class="dot" aria-hidden="true" />
      <span>{text}</span>
    </span>
  );
}
