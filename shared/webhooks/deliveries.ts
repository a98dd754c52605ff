/**
 * Outgoing webhooks: deliveries are recorded by a trigger when a job with a `webhook_url`
 * reaches a terminal state (migration 00006), or when a key's spend crosses a warning share of
 * its budget (`budget.warning`, migration 00012, with its body in `payload`); `dispatchDue` sends
 * the due ones, signed the way Replicate signs (Standard Webhooks), and retries failures with
 * backoff.
 */
import { type Db, fragment, sql } from "../db/db.ts";
import { jobToJson } from "../jobs/json.ts";
import { getJob } from "../jobs/repo.ts";
import type { Logger } from "../logger.ts";
import { webhookHeaders } from "./signature.ts";
import { SafeFetchError, type SafeFetchReason } from "../http/safe_fetch.ts";

export interface Delivery {
  id: string;
  /** The job it is about (null for a delivery about a key: budget.warning). */
  job_id: string | null;
  event: string;
  url: string;
  state: "pending" | "delivered" | "failed";
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  next_attempt_at: Date;
  created_at: Date;
  delivered_at: Date | null;
}

/**
 * What `last_error` says when the SSRF-safe fetch refuses or fails, in place of its own message
 * (which names resolved addresses); `final` refusals are not retried: the URL will not change.
 */
const FETCH_FAILURES: Record<SafeFetchReason, { message: string; final: boolean }> = {
  private_address: {
    message: "Refused: the receiver is on a private or reserved address",
    final: true,
  },
  scheme: { message: "Refused: only https receivers are reached", final: true },
  credentials: { message: "Refused: the URL must not carry credentials", final: true },
  redirect: { message: "Refused: the receiver redirected to another host", final: true },
  too_many_redirects: { message: "Refused: the receiver redirected too many times", final: true },
  dns: { message: "Cannot resolve the receiver's host", final: false },
  timeout: { message: "The receiver did not answer in time", final: false },
};

/** Waits before attempt n+1 (seconds): 10 s, 30 s, 2 min, 10 min, 1 h. */
export const RETRY_SCHEDULE_S = [10, 30, 120, 600, 3600];
export const MAX_ATTEMPTS = RETRY_SCHEDULE_S.length + 1;

const COLUMNS = fragment(sql`id, job_id, event, url, state, attempts, last_status, last_error,
  next_attempt_at, created_at, delivered_at`);

/** Deliveries of one job, oldest first. */
export function listDeliveries(db: Db, jobId: string): Promise<Delivery[]> {
  return db.query<Delivery>(sql`
    SELECT ${COLUMNS} FROM webhook_deliveries WHERE job_id = ${jobId} ORDER BY created_at`);
}

export interface DispatchDeps {
  db: Db;
  logger: Logger;
  /** SSRF-safe fetch (shared/safe_fetch.ts). */
  send: (url: string, init: RequestInit) => Promise<Response>;
  /** Secret used when the job has no owner key (AUTH_MODE=none): WEBHOOK_SECRET. */
  defaultSecret?: string;
  now?: () => number;
}

/** Claims and sends up to `limit` due deliveries; returns how many were attempted. */
export async function dispatchDue(deps: DispatchDeps, limit = 20): Promise<number> {
  // Claim: bump attempts and push next_attempt_at out as a lease, so a parallel dispatcher
  // (another worker) skips these rows.
  const claimed = await deps.db.query<Delivery & { secret: string | null; payload: unknown }>(sql`
    UPDATE webhook_deliveries d
    SET attempts = d.attempts + 1, next_attempt_at = now() + interval '2 minutes'
    FROM (
      SELECT wd.id FROM webhook_deliveries wd
      WHERE wd.state = 'pending' AND wd.next_attempt_at <= now()
      ORDER BY wd.next_attempt_at LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    ) due
    WHERE d.id = due.id
    RETURNING d.id, d.job_id, d.event, d.url, d.attempts, d.payload,
      coalesce(
        (SELECT k.webhook_secret FROM jobs j JOIN api_keys k ON k.id = j.owner_key_id
         WHERE j.id = d.job_id),
        (SELECT k.webhook_secret FROM api_keys k WHERE k.id = d.key_id)) AS secret`);
  await Promise.all(claimed.map((d) => deliver(deps, d)));
  return claimed.length;
}

async function deliver(
  deps: DispatchDeps,
  d: Pick<Delivery, "id" | "job_id" | "event" | "url" | "attempts"> & {
    secret: string | null;
    payload: unknown;
  },
): Promise<void> {
  const log = deps.logger.child({ jobId: d.job_id, deliveryId: d.id });
  const secret = d.secret ?? deps.defaultSecret;
  // About a key (budget.warning): the body was written when it happened. About a job: as it is now.
  const job = d.job_id === null ? null : await getJob(deps.db, d.job_id);
  const data = d.job_id === null ? d.payload : job ? jobToJson(job) : null;
  if (data === null || data === undefined || !secret) {
    await finish(
      deps.db,
      d.id,
      "failed",
      null,
      data ? "No signing secret (set WEBHOOK_SECRET)" : "Job is gone",
    );
    return;
  }
  const body = JSON.stringify({
    type: d.job_id === null ? d.event : `job.${d.event}`,
    timestamp: new Date(deps.now?.() ?? Date.now()).toISOString(),
    data,
  });
  const headers = await webhookHeaders(secret, body, { id: `msg_${d.id.replaceAll("-", "")}` });
  let status: number | null = null;
  let error: string | null = null;
  try {
    const res = await deps.send(d.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": "Darkroom-Webhooks/1",
        ...headers,
      },
      body,
    });
    status = res.status;
    await res.body?.cancel().catch(() => {});
    if (res.ok) {
      await finish(deps.db, d.id, "delivered", status, null);
      log.info("webhook delivered", { status, attempt: d.attempts });
      return;
    }
    error = `Receiver answered ${status}`;
  } catch (err) {
    if (err instanceof SafeFetchError) {
      const failure = FETCH_FAILURES[err.reason];
      if (failure.final) {
        await finish(deps.db, d.id, "failed", null, failure.message);
        // The detail (which address) is for the operator's log only.
        log.warn("webhook refused for good", { reason: err.reason, error: err.message });
        return;
      }
      error = failure.message;
    } else {
      error = (err as Error).message.slice(0, 500);
    }
  }
  if (d.attempts >= MAX_ATTEMPTS) {
    await finish(deps.db, d.id, "failed", status, error);
    log.warn("webhook failed for good", { status, error, attempts: d.attempts });
    return;
  }
  const waitS = RETRY_SCHEDULE_S[d.attempts - 1] ?? RETRY_SCHEDULE_S.at(-1)!;
  await deps.db.query(sql`
    UPDATE webhook_deliveries
    SET last_status = ${status}, last_error = ${error},
        next_attempt_at = now() + make_interval(secs => ${waitS})
    WHERE id = ${d.id}`);
  log.warn("webhook attempt failed; will retry", { status, error, retryInS: waitS });
}

async function finish(
  db: Db,
  id: string,
  state: "delivered" | "failed",
  status: number | null,
  error: string | null,
): Promise<void> {
  await db.query(sql`
    UPDATE webhook_deliveries
    SET state = ${state}, last_status = ${status}, last_error = ${error},
        delivered_at = CASE WHEN ${state}::text = 'delivered' THEN now() ELSE NULL END
    WHERE id = ${id}`);
}
