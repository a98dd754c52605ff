/** Jobs: submit (POST /generate), read (GET /status/:id, /jobs/:id) and list (GET /jobs). */
import { Hono } from "hono";
import { NotFoundError, UnavailableError, ValidationError } from "../../shared/errors.ts";
import { jobToJson } from "../../shared/job_json.ts";
import { countJobs, deleteJob, getJob, insertJob, listJobs } from "../../shared/jobs_repo.ts";
import { generateRequest, issueDetails, isUuid, LIMITS, listQuery } from "../../shared/schemas.ts";
import type { AppDeps, AppEnv } from "../app.ts";
import { readJsonBody } from "../body.ts";

/** Routes mounted under the API prefix. */
export function jobRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const prefix = deps.config.API_V1_PREFIX;

  app.post("/generate", async (c) => {
    const log = c.get("logger");
    const raw = await readJsonBody(c, LIMITS.bodyBytes);
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      throw new ValidationError("Request body must be a JSON object");
    }
    const parsed = generateRequest.safeParse(raw);
    if (!parsed.success) {
      throw new ValidationError("Request body is invalid", issueDetails(parsed.error));
    }
    const input = parsed.data;
    const resolved = deps.providers.resolve(input.model);
    if ("error" in resolved) {
      throw new ValidationError(resolved.error, [{ field: "model", message: resolved.error }]);
    }
    const id = crypto.randomUUID();
    await insertJob(deps.db, {
      id,
      prompt: input.prompt,
      negative_prompt: input.negative_prompt ?? null,
      model: input.model,
      parameters: input.parameters,
      provider: resolved.provider.name,
    });
    try {
      await deps.queue.enqueue({ jobId: id, requestId: c.get("requestId") });
    } catch (err) {
      log.warn("cannot enqueue job; removing it", { jobId: id, err });
      // The client is told 503, so the job must not linger as pending.
      await deleteJob(deps.db, id).catch((e) =>
        log.error("cannot remove unqueued job", { jobId: id, err: e })
      );
      throw new UnavailableError("The job queue is unavailable; the job was not accepted");
    }
    log.info("job accepted", { jobId: id, model: input.model });
    c.header("Location", `${prefix}/status/${id}`);
    return c.json({ job_id: id, status: "pending", message: "Job accepted and queued" }, 202);
  });

  const readJob = async (id: string) => {
    if (!isUuid(id)) throw new NotFoundError(`Job ${id.slice(0, 100)} not found`);
    const row = await getJob(deps.db, id.toLowerCase());
    if (!row) throw new NotFoundError(`Job ${id} not found`);
    return jobToJson(row);
  };

  app.get("/status/:id", async (c) => c.json(await readJob(c.req.param("id"))));
  app.get("/jobs/:id", async (c) => c.json(await readJob(c.req.param("id"))));

  app.get("/jobs", async (c) => {
    const parsed = listQuery.safeParse(c.req.query());
    if (!parsed.success) {
      throw new ValidationError("Query is invalid", issueDetails(parsed.error));
    }
    const [rows, total] = await Promise.all([
      listJobs(deps.db, parsed.data),
      countJobs(deps.db, parsed.data.status),
    ]);
    c.header("X-Total-Count", String(total));
    return c.json(rows.map(jobToJson));
  });

  return app;
}
