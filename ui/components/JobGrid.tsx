/** Jobs as a grid of cards; the lightbox steps through the grid's jobs. */
import type { Job } from "../state/jobs.ts";
import { JobCard } from "./JobCard.tsx";

export interface JobGridProps {
  jobs: Job[];
  /** Queue position of each pending job. */
  positions: ReadonlyMap<string, number>;
  /** How many cards, from the top, load their images at once (above the fold). */
  eager: number;
  /** Another class beside `grid`. */
  variant?: string;
}

export function JobGrid({ jobs, positions, eager, variant }: JobGridProps) {
  const ids = jobs.map((j) => j.id);
  return (
    <div class={variant ? `grid ${variant}` : "grid"}>
      {jobs.map((job, i) => (
        <JobCard
          key={job.id}
          job={job}
          list={ids}
          position={positions.get(job.id)}
          eager={i < eager}
        />
      ))}
    </div>
  );
}
