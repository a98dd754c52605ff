/**
 * The job queue interface, modelled on Deno KV queues (`enqueue` / `listenQueue`), so BullMQ on
 * Redis and an embedded backend can stand behind it.
 */

/** What travels on the queue: only the job id (the job itself lives in Postgres). */
export interface QueueMessage {
  jobId: string;
  /** The request that created the job, to follow it through the logs. */
  requestId?: string;
  /**
   * Set by a submit, which sends the message while the job's INSERT is still committing (the
   * two travel at once): until this time (ms since the epoch) a worker that cannot find the job
   * waits for its row instead of dropping the message.
   */
  insertDeadline?: number;
}

export interface EnqueueOptions {
  /** Deliver no earlier than this many milliseconds from now. */
  delayMs?: number;
  /** Lower numbers run first (see PRIORITIES); undefined = the backend's default. */
  priority?: number;
  /**
   * Deduplication id; a second enqueue with the same id while the first is still queued or
   * running is ignored. Defaults to the message's jobId.
   */
  id?: string;
  /** Replace a dead-lettered message with the same id instead of being ignored by it. */
  reviveDead?: boolean;
}

export interface DeliveryContext {
  /** 1 for the first delivery, 2 for the first retry, ... */
  attempt: number;
  /** Deliveries allowed in all; after the last failed one the message is dead-lettered. */
  maxAttempts: number;
  /** Aborted when the listener is closing and the handler should wrap up. */
  signal: AbortSignal;
  /**
   * Stops every listener of this queue (all workers, for BullMQ) from taking new messages for
   * `ms`: the provider said it is throttling us, so everybody slows down together.
   */
  pauseAll(ms: number): Promise<void>;
}

/** A handler resolves to acknowledge; throwing asks for a retry (with backoff) until the last attempt. */
export type QueueHandler = (message: QueueMessage, context: DeliveryContext) => Promise<void>;

/** Throw from a handler to retry after a specific delay (e.g. a provider's 429 reset hint). */
export class RetryLaterError extends Error {
  constructor(message: string, readonly delayMs: number) {
    super(message);
    this.name = "RetryLaterError";
  }
}

export interface ListenOptions {
  /** Messages handled at once. */
  concurrency: number;
}

export interface QueueListener {
  /** Stops taking messages and waits for running handlers (up to the backend's drain time). */
  close(): Promise<void>;
  /** Handlers running now. */
  active(): number;
}

export interface QueueStats {
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  completed: number;
}

export interface JobQueue {
  readonly backend: "bullmq" | "kv";
  enqueue(message: QueueMessage, options?: EnqueueOptions): Promise<void>;
  listenQueue(handler: QueueHandler, options: ListenOptions): QueueListener;
  /**
   * Removes a message that is waiting, delayed or dead-lettered (so the id can be queued again);
   * a running one is left alone. Resolves true when something was removed.
   */
  remove(id: string): Promise<boolean>;
  /** Counts by state (for health, the Architecture tab and metrics). */
  stats(): Promise<QueueStats>;
  /** Throws when the backend cannot be reached. */
  ping(): Promise<void>;
  /**
   * False while the backend is known to be unreachable, so an enqueue would only fail (the API
   * then keeps the job in the outbox at once: shared/jobs/outbox.ts). Absent: always reachable.
   */
  available?(): boolean;
  /**
   * Calls `fn` each time the backend becomes reachable again (the outbox dispatcher drains then);
   * returns the function that stops it. Absent: the backend never goes away.
   */
  onAvailable?(fn: () => void): () => void;
  close(): Promise<void>;
}

/** Queue priorities for the API's `priority` field (lower runs first, on both backends). */
export const PRIORITIES = { high: 1, normal: 1024, low: 1_048_576 } as const;
export type PriorityName = keyof typeof PRIORITIES;
