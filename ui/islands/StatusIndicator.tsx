/** Header pill: whether updates are live, and whether the service is healthy. */
import { feedState, health } from "../state/live.ts";

export interface StatusIndicatorProps {
  class?: string;
}

export default function StatusIndicator({ class: cls }: StatusIndicatorProps) {
  const feed = feedState.value;
  const h = health.value?.status;
  const level = h === "unavailable"
    ? "bad"
    : h === "degraded" || feed === "polling"
    ? "warn"
    : "ok";
  const text = h === "unavailable"
    ? "Service unavailable"
    : h === "degraded"
    ? "No worker online"
    : feed === "live"
    ? "Live"
    : feed === "polling"
    ? "Reconnecting"
    : "Connecting";
  const detail = h === "degraded"
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
