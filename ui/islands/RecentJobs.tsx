/** The Generate tab's queue: the latest jobs, live, newest first. */
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
  return (
    <section class="recent" aria-labelledby="recent-title">
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
