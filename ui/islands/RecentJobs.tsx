/**
 * The Generate tab's queue: the latest jobs, live, newest first. A job just submitted from this
 * page is scrolled into view (on a phone the list is below the form).
 */
import { useEffect, useRef } from "preact/hooks";
import { Icon } from "../components/Icon.tsx";
import { JobGrid } from "../components/JobGrid.tsx";
import { jobsStore } from "../state/jobs.ts";
import { navigate } from "../state/url.ts";

export interface RecentJobsProps {
  /** How many jobs to show. */
  limit?: number;
}

export default function RecentJobs({ limit = 8 }: RecentJobsProps) {
  const jobs = jobsStore.sorted.value.slice(0, limit);
  const positions = jobsStore.queuePositions.value;
  const running = jobsStore.running.value.length;
  const ref = useRef<HTMLElement>(null);
  const shown = useRef<string | null>(null);
  const newest = jobs[0];
  const fresh = newest?.local ? newest.id : null;
  useEffect(() => {
    if (!fresh || fresh === shown.current) return;
    shown.current = fresh;
    const card = ref.current?.querySelector(`[data-job="${fresh}"]`);
    const r = card?.getBoundingClientRect();
    if (!card || !r || (r.top >= 0 && r.bottom <= innerHeight)) return;
    const still = matchMedia("(prefers-reduced-motion: reduce)").matches;
    card.scrollIntoView({ block: "center", behavior: still ? "auto" : "smooth" });
  }, [fresh]);
  return (
    <section class="recent" aria-labelledby="recent-title" ref={ref}>
      <div class="section-head">
        <h2 id="recent-title">
          Recent {running > 0 && <span class="muted">· {running} running</span>}
        </h2>
        <a
          class="link"
          href="?tab=history"
          onClick={(e) => {
            e.preventDefault();
            navigate({ tab: "history" }, { push: true });
          }}
        >
          All history <Icon name="chevronRight" size={14} />
        </a>
      </div>
      {jobs.length
        ? <JobGrid jobs={jobs} positions={positions} eager={2} variant="grid-recent" />
        : (
          <div class="empty">
            <Icon name="image" size={32} />
            <p>Your images appear here as soon as you submit a prompt.</p>
          </div>
        )}
    </section>
  );
}
