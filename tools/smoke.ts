/**
 * `deno task smoke [BASE_URL]`: end-to-end check of a running deployment. Checks health, submits a
 * `local/...` job, waits for it, downloads the image and verifies it is a PNG of the asked size,
 * then deletes the job, so the check leaves nothing in the gallery (also when it fails).
 */

const WIDTH = 320;
const HEIGHT = 192;

class SmokeFailure extends Error {}

function fail(message: string): never {
  throw new SmokeFailure(message);
}

async function getJson(url: string, init?: RequestInit): Promise<{ res: Response; body: unknown }> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    fail(`Cannot reach ${url}: ${(err as Error).message}`);
  }
  const text = await res.text();
  try {
    return { res, body: JSON.parse(text) };
  } catch {
    fail(`${url} answered ${res.status} with non-JSON: ${text.slice(0, 200)}`);
  }
}

/** Reads width and height from a PNG's IHDR chunk. */
export function pngSize(bytes: Uint8Array): { width: number; height: number } | null {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length < 24 || !sig.every((b, i) => bytes[i] === b)) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/** The job as the smoke check last read it (`GET /status/{id}`). */
export interface SmokeJob {
  id: string;
  status: string;
  progress: number;
  image_url: string | null;
  error_message: string | null;
  started_at: string | null;
  completed_at: string | null;
}

/** Runs the smoke check; returns the job as it completed (deleted since). */
export async function smoke(base: string, log: (line: string) => void): Promise<SmokeJob> {
  const api = `${base}/api/v1`;
  const health = await getJson(`${api}/health`);
  const status = (health.body as { status?: string }).status;
  if (health.res.status !== 200) {
    fail(`Health is ${health.res.status}: ${JSON.stringify(health.body)}`);
  }
  log(`ok   health: ${status}`);
  if (status === "degraded") log("warn no worker heartbeat yet; the job will wait for one");

  const submit = await getJson(`${api}/generate`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      prompt: "smoke test: a lighthouse on a cliff at dusk",
      model: "local/abstract",
      parameters: { width: WIDTH, height: HEIGHT, seed: 42 },
    }),
  });
  const jobId = (submit.body as { job_id?: string }).job_id;
  if (submit.res.status !== 202 || !jobId) {
    fail(`Submit answered ${submit.res.status}: ${JSON.stringify(submit.body)}`);
  }
  log(`ok   submitted job ${jobId}`);

  let job: SmokeJob;
  try {
    job = await checkJob(base, jobId, log);
  } catch (err) {
    // The first failure is the one reported; the job still leaves the gallery.
    await deleteJob(api, jobId).catch(() => {});
    throw err;
  }
  await deleteJob(api, jobId);
  log(`ok   deleted job ${jobId}`);
  return job;
}

/** Waits for the job, then downloads its image and checks it is a PNG of the asked size. */
async function checkJob(
  base: string,
  jobId: string,
  log: (line: string) => void,
): Promise<SmokeJob> {
  const api = `${base}/api/v1`;
  const deadline = Date.now() + 60_000;
  let job: SmokeJob;
  while (true) {
    const res = await getJson(`${api}/status/${jobId}`);
    if (res.res.status !== 200) fail(`Status answered ${res.res.status}`);
    job = res.body as SmokeJob;
    if (job.status === "completed") break;
    if (job.status === "failed" || job.status === "canceled") {
      fail(`Job ${job.status}: ${job.error_message}`);
    }
    if (Date.now() > deadline) fail(`Job still ${job.status} after 60 s (is a worker running?)`);
    await new Promise((r) => setTimeout(r, 250));
  }
  log(`ok   job completed`);

  if (!job.image_url) fail("Completed job has no image_url");
  const imageRes = await fetch(new URL(job.image_url, base), {
    signal: AbortSignal.timeout(10_000),
  });
  if (imageRes.status !== 200) fail(`Image answered ${imageRes.status}`);
  const type = imageRes.headers.get("content-type");
  const bytes = new Uint8Array(await imageRes.arrayBuffer());
  const size = pngSize(bytes);
  if (type !== "image/png" || !size) fail(`Image is not a PNG (content-type ${type})`);
  if (size.width !== WIDTH || size.height !== HEIGHT) {
    fail(`Image is ${size.width}x${size.height}, expected ${WIDTH}x${HEIGHT}`);
  }
  log(`ok   image ${job.image_url}: PNG ${size.width}x${size.height}, ${bytes.length} bytes`);
  return job;
}

/** DELETE /jobs/{id}: the job and its images; anything but 204 fails the check. */
async function deleteJob(api: string, jobId: string): Promise<void> {
  let res: Response;
  try {
    res = await fetch(`${api}/jobs/${jobId}`, {
      method: "DELETE",
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    fail(`Cannot delete job ${jobId}: ${(err as Error).message}`);
  }
  const text = await res.text();
  if (res.status !== 204) {
    fail(`Delete of job ${jobId} answered ${res.status}: ${text.slice(0, 200)}`);
  }
}

if (import.meta.main) {
  const base = (Deno.args[0] ?? "http://127.0.0.1:8000").replace(/\/+$/, "");
  try {
    await smoke(base, console.log);
    console.log(`Smoke test passed against ${base}`);
  } catch (err) {
    console.error(`Smoke test FAILED against ${base}: ${(err as Error).message}`);
    Deno.exit(1);
  }
}
