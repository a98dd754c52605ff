/** The provider interface: what the worker needs from Replicate or the offline renderer. */

export type PredictionStatus =
  | "starting"
  | "processing"
  | "succeeded"
  | "failed"
  | "canceled"
  | "aborted";

/** A provider-side prediction, in Replicate's vocabulary. */
export interface Prediction {
  id: string;
  status: PredictionStatus;
  /** Output references (URLs for Replicate, `local://` refs for the local provider). */
  output: string[];
  /** Raw logs so far (tqdm-style progress lines are parsed by the worker). */
  logs: string;
  /** The provider's error message when status is failed. */
  error: string | null;
  /** Creation to completion at the provider (ms, by its own clock), once finished and known. */
  runMs?: number;
  /** Place in the provider's own queue while it waits there (fal's IN_QUEUE), when told. */
  queuePosition?: number;
  /** Seconds the model ran (Replicate's `metrics.predict_time`, what it bills), once known. */
  predictTimeS?: number;
  /** The model and input it was created with, when the provider says (to recognise it again). */
  model?: string;
  input?: Record<string, unknown>;
  /** Creation time at the provider (ms since the epoch), when known. */
  createdAt?: number;
}

export interface PredictionInput {
  model: string;
  prompt: string;
  negative_prompt?: string | null;
  parameters: Record<string, unknown>;
}

export interface CallOptions {
  signal?: AbortSignal;
  /** The model the prediction was created for (fal derives a request's URLs from it). */
  model?: string;
}

export interface CreateOptions extends CallOptions {
  /** Ask the provider to give up after this many seconds (Replicate's Cancel-After). */
  deadlineS?: number;
}

/**
 * A generation provider. Methods throw ProviderError (retryable or not) on failure, and
 * PredictionNotFoundError from `get` when the provider does not know the id.
 */
export interface Provider {
  readonly name: string;
  /**
   * How often a running prediction may be asked for its progress at no cost (ms): the worker
   * then asks at least this often and records each step (the local provider, in memory).
   * Unset: the worker's own schedule, which sleeps until the expected end (remote providers).
   */
  readonly progressPollMs?: number;
  create(input: PredictionInput, options?: CreateOptions): Promise<Prediction>;
  get(id: string, options?: CallOptions): Promise<Prediction>;
  cancel(id: string, options?: CallOptions): Promise<void>;
  /** Opens one output for download; the body is streamed to storage by the caller. */
  openOutput(ref: string, options?: CallOptions): Promise<Response>;
  /**
   * The JSON schema of a model's input as the provider publishes it (fal: the endpoint's OpenAPI
   * document), or null when it publishes none.
   */
  inputSchema?(model: string, options?: CallOptions): Promise<Record<string, unknown> | null>;
  /**
   * Predictions created for `input` since `sinceMs` (newest first), to find one whose create
   * answer was lost (a crash or a shutdown while the provider held the create call): it is
   * adopted instead of paying for another. Providers that cannot list predictions leave it out.
   */
  findCreated?(
    input: PredictionInput,
    sinceMs: number,
    options?: CallOptions,
  ): Promise<Prediction[]>;
}

/** True once a prediction will not change any more. */
export function isFinished(status: PredictionStatus): boolean {
  return status === "succeeded" || status === "failed" || status === "canceled" ||
    status === "aborted";
}
