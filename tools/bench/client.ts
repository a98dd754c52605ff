/** The benchmark's own calls to a stack's API: submit jobs, count them, wait for them, list them. */
import { type BenchRun, checkInterrupted, sleep } from "./run.ts";
import { API, JOB_BODY, type Stack } from "./stack.ts";

/** Runs `fn` over `items` with at most `limit` at once; stops starting new ones on interruption. */
export async function pool<T, R>(
  items: T[],
  options: { limit: number; run: BenchRun },
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const { limit, run } = options;
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      checkInterrupted(run);
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

/** POSTs the benchmark's job; returns its id. */
export async function submit(base: string): Promise<string> {
  const res = await fetch(`${base}${API}/generate`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JOB_BODY,
  });
  const body = await res.json();
  if (res.status !== 202) throw new Error(`POST /generate answered ${res.status}`);
  return body.job_id;
}

/** How many jobs have `status` (the list's x-total-count). */
export async function countJobs(base: string, status: string): Promise<number> {
  const res = await fetch(`${base}${API}/jobs?status=${status}&limit=1`);
  await res.body?.cancel();
  return Number(res.headers.get("x-total-count") ?? 0);
}

/** Waits until `n` jobs are completed or failed; returns how many of each. */
export async function waitForJobs(
  stack: Stack,
  n: number,
  options: { timeoutMs: number; pollMs: number },
): Promise<{ completed: number; failed: number; timedOut: boolean }> {
  const { base } = stack;
  const { timeoutMs, pollMs } = options;
  const until = Date.now() + timeoutMs;
  while (true) {
    checkInterrupted(stack.run);
    const [completed, failed] = await Promise.all([
      countJobs(base, "completed"),
      countJobs(base, "failed"),
    ]);
    if (completed + failed >= n) return { completed, failed, timedOut: false };
    if (Date.now() > until) return { completed, failed, timedOut: true };
    await sleep(pollMs);
  }
}

/** The fields of a listed job the end-to-end measures read. */
export interface JobTimes {
  id: string;
  status: string;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
}

/** The first `n` jobs of the list, 100 a page. */
export async function allJobs(base: string, n: number): Promise<JobTimes[]> {
  const jobs: JobTimes[] = [];
  for (let skip = 0; skip < n; skip += 100) {
    const res = await fetch(`${base}${API}/jobs?limit=100&skip=${skip}`);
    jobs.push(...await res.json());
  }
  return jobs;
}
