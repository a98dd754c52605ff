/**
 * What the gallery does to jobs: stars (shown at once, put back if the API refuses), bulk
 * actions with a result per job, collections, reuse and variations. Loaded with History and the
 * lightbox, never on the first page. Functions that call the API take it as a dependency.
 */
import { signal } from "@preact/signals";
import {
  type ApiClient,
  ApiError,
  type BulkAction,
  type BulkItemResult,
  type CollectionJson,
  type GenerateBody,
} from "../api_client.ts";
import { copyText } from "../components/CopyButton.tsx";
import { draft, draftFromJob, fieldErrors, focusPromptRequest, randomSeed } from "./form.ts";
import type { Job, JobsStore } from "./jobs.ts";
import { navigate } from "./url.ts";

/** The page's dependencies for the library's calls (the page passes its own; tests fakes). */
export interface LibraryDeps {
  api: Pick<
    ApiClient,
    "star" | "bulk" | "deleteJob" | "collections" | "createCollection" | "generate" | "getJob"
  >;
  store: JobsStore;
  /** Takes a deleted job off the page (the store, the lightbox, the lists). */
  forget(id: string): void;
  /** Tells the user (a toast); `error` for failures. */
  notify(kind: "success" | "error" | "info", title: string, body?: string): void;
}

/** True when the API has no such route (a server without the library), not a missing job. */
export function missingRoute(err: unknown): boolean {
  return err instanceof ApiError &&
    (err.status === 405 || (err.status === 404 && err.message.startsWith("No route")));
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Stars or unstars one job: the tile changes at once and changes back if the API refuses. */
export async function setStar(deps: LibraryDeps, job: Job, on: boolean): Promise<boolean> {
  const held = deps.store.byId.value.get(job.id) ?? job;
  deps.store.upsert({ ...held, starred: on });
  try {
    const answer = await deps.api.star(job.id, on);
    if (answer) deps.store.upsert({ ...answer, starred: answer.starred ?? on });
    return true;
  } catch (err) {
    const now = deps.store.byId.value.get(job.id);
    if (now) deps.store.upsert({ ...now, starred: held.starred });
    deps.notify(
      "error",
      on ? "Cannot star" : "Cannot unstar",
      missingRoute(err) ? "This server has no stars yet." : message(err),
    );
    return false;
  }
}

/**
 * A bulk answer as one result per id: `{results: [...]}` or a list, each with `ok`, or a
 * `status` (an HTTP code or a word), and maybe an `error` (text or the API's error object).
 */
export function bulkResults(answer: unknown): BulkItemResult[] {
  const list = Array.isArray(answer)
    ? answer
    : (answer as { results?: unknown[] } | null)?.results ?? [];
  return list.map((item) => {
    const r = item as { id?: unknown; ok?: unknown; status?: unknown; error?: unknown };
    const err = r.error as { message?: string } | string | undefined;
    const ok = r.ok !== undefined
      ? r.ok === true
      : typeof r.status === "number"
      ? r.status < 400
      : !err && !/^(error|failed|not_found|forbidden)$/.test(String(r.status ?? ""));
    return {
      id: String(r.id),
      ok,
      ...(ok ? {} : { error: typeof err === "string" ? err : err?.message ?? String(r.status) }),
    };
  });
}

/** A bulk action's outcome: the jobs it was done to and those it was not, with why. */
export interface BulkOutcome {
  done: string[];
  failed: BulkItemResult[];
}

/** Does one id's part of a bulk action with the single-job routes (servers without `/bulk`). */
async function oneByOne(
  deps: LibraryDeps,
  ids: string[],
  action: BulkAction,
): Promise<BulkItemResult[]> {
  return await Promise.all(ids.map(async (id): Promise<BulkItemResult> => {
    try {
      if (action === "delete") await deps.api.deleteJob(id);
      else await deps.api.star(id, action === "star");
      return { id, ok: true };
    } catch (err) {
      // Deleting what is gone already is done.
      if (action === "delete" && err instanceof ApiError && err.status === 404) {
        return { id, ok: true };
      }
      return { id, ok: false, error: message(err) };
    }
  }));
}

/**
 * Runs a bulk action: `POST /jobs/bulk`, or job by job where the server has no bulk route (delete,
 * star and unstar only). Deleted jobs leave the page, stars change on the page; returns what was
 * done and what was not.
 */
export async function runBulk(
  deps: LibraryDeps,
  ids: string[],
  action: BulkAction,
  collection?: string,
): Promise<BulkOutcome> {
  let results: BulkItemResult[];
  try {
    results = bulkResults(
      await deps.api.bulk({ ids, action, ...(collection ? { collection } : {}) }),
    );
  } catch (err) {
    if (!missingRoute(err) || action === "add_to" || action === "remove_from") {
      const text = missingRoute(err) ? "This server has no collections yet." : message(err);
      return { done: [], failed: ids.map((id) => ({ id, ok: false, error: text })) };
    }
    results = await oneByOne(deps, ids, action);
  }
  const done = results.filter((r) => r.ok).map((r) => r.id);
  const failed = results.filter((r) => !r.ok);
  // Ids the answer did not mention were not done.
  const answered = new Set(results.map((r) => r.id));
  for (const id of ids) if (!answered.has(id)) failed.push({ id, ok: false, error: "no answer" });
  if (action === "delete") { for (const id of done) deps.forget(id); }
  if (action === "star" || action === "unstar") {
    deps.store.upsertMany(
      done.map((id) => deps.store.byId.value.get(id)).filter((j): j is Job => !!j)
        .map((j) => ({ ...j, starred: action === "star" })),
    );
  }
  return { done, failed };
}

const VERBS: Record<BulkAction, string> = {
  delete: "Deleted",
  star: "Starred",
  unstar: "Unstarred",
  add_to: "Added",
  remove_from: "Removed",
};

/** "Starred 4 jobs", "Added 2 jobs to Cats; 1 not: Job x not found". */
export function bulkMessage(action: BulkAction, outcome: BulkOutcome, collection = ""): string {
  const n = outcome.done.length;
  const where = action === "add_to"
    ? ` to ${collection}`
    : action === "remove_from"
    ? ` from ${collection}`
    : "";
  let text = `${VERBS[action]} ${n} ${n === 1 ? "job" : "jobs"}${where}`;
  if (outcome.failed.length) {
    const reasons = [...new Set(outcome.failed.map((f) => f.error ?? "refused"))];
    text += `; ${outcome.failed.length} not: ${reasons.slice(0, 2).join("; ")}`;
  }
  return text;
}

/** The key's collections (null until loaded; [] when the server has none or no such route). */
export const collections = signal<CollectionJson[] | null>(null);
/** False once the server answered that it has no collections route. */
export const collectionsSupported = signal(true);

/** Loads the collections into `collections`. */
export async function loadCollections(deps: Pick<LibraryDeps, "api">): Promise<void> {
  try {
    collections.value = await deps.api.collections();
    collectionsSupported.value = true;
  } catch (err) {
    if (missingRoute(err)) collectionsSupported.value = false;
    collections.value ??= [];
  }
}

/** Makes a collection (the name trimmed); it joins `collections`. */
export async function newCollection(
  deps: Pick<LibraryDeps, "api">,
  name: string,
): Promise<CollectionJson> {
  const made = await deps.api.createCollection(name.trim());
  collections.value = [...(collections.value ?? []).filter((c) => c.id !== made.id), made];
  return made;
}

/** Puts a job's settings (all of them, with its seed locked) in the form and goes there. */
export function reuseSettings(job: Job): void {
  draft.value = draftFromJob(job, draft.value);
  fieldErrors.value = {};
  navigate({ tab: "generate", job: "" }, { push: true });
  focusPromptRequest.value++;
}

/** Puts only a job's prompt and negative prompt in the form (the other settings stay). */
export function reusePrompt(job: Job): void {
  draft.value = { ...draft.value, prompt: job.prompt, negativePrompt: job.negative_prompt ?? "" };
  fieldErrors.value = {};
  navigate({ tab: "generate", job: "" }, { push: true });
  focusPromptRequest.value++;
}

/** The request for a variation of a job: the same settings, a new seed. */
export function variationBody(job: Job, random: () => number = Math.random): GenerateBody {
  return {
    prompt: job.prompt,
    ...(job.negative_prompt ? { negative_prompt: job.negative_prompt } : {}),
    model: job.route ?? job.model,
    parameters: { ...job.parameters, seed: randomSeed(random) },
    ...(job.priority ? { priority: job.priority } : {}),
  };
}

/** Queues a variation of a job (shown at once, like a submit from the form). */
export async function queueVariation(
  deps: Pick<LibraryDeps, "api" | "store" | "notify">,
  job: Job,
  receive: (job: Job) => void,
): Promise<void> {
  const body = variationBody(job);
  const localId = deps.store.addOptimistic(body);
  try {
    const r = await deps.api.generate(body);
    deps.store.confirmOptimistic(localId, r.job_id);
    deps.notify("success", "Variation queued", `Seed ${body.parameters.seed}`);
    deps.api.getJob(r.job_id).then(receive).catch(() => {/* the live feed brings it */});
  } catch (err) {
    deps.store.remove(localId);
    deps.notify("error", "Variation not queued", message(err));
  }
}

/** The link that opens a job in the lightbox (`?job=<id>`). */
export function jobLink(jobId: string, base = location.origin + location.pathname): string {
  return `${base}?job=${encodeURIComponent(jobId)}`;
}

/** Copies text and says whether it worked. */
export async function copyAndSay(
  notify: LibraryDeps["notify"],
  text: string,
  what: string,
): Promise<void> {
  const ok = await copyText(text);
  notify(ok ? "success" : "error", ok ? `${what} copied` : `Cannot copy the ${what.toLowerCase()}`);
}

/** The seed a job ran with, when it says (the API records it for every finished job). */
export function seedOf(job: Job): number | null {
  const s = job.parameters?.seed;
  return typeof s === "number" && Number.isFinite(s) ? s : null;
}
