/**
 * The `local` provider's images rendered on a thread of their own. A render is pure CPU work
 * (~0.2–0.7 s for 512–2048 px here); on the calling thread it would stop that thread's event
 * loop for as long, and under `deno task start` that thread also serves the API and the UI.
 * The thread starts on the first render (or `start()`), renders one image at a time, and hands
 * the PNG bytes back without a copy.
 */
import { type RenderOptions, renderPng } from "./local_render.ts";

/** Messages to the render thread. */
export interface RenderRequest {
  id: number;
  options: RenderOptions;
}

/** Answers from the render thread. */
export type RenderReply =
  | { id: number; bytes: Uint8Array<ArrayBuffer> }
  | { id: number; error: string };

export interface RenderThread {
  render(options: RenderOptions): Promise<Uint8Array<ArrayBuffer>>;
  /**
   * Starts the thread now. A thread takes the CPU priority of the thread that starts it: the
   * worker starts this one before it lowers its own priority (WORKER_NICE), so renders keep the
   * normal priority.
   */
  start(): void;
  /** Stops the thread; renders still pending fail. A later render starts a new one. */
  close(): void;
}

/** A render thread, started on first use. */
export function createRenderThread(): RenderThread {
  let thread: Worker | undefined;
  let nextId = 1;
  const pending = new Map<
    number,
    { resolve(b: Uint8Array<ArrayBuffer>): void; reject(e: Error): void }
  >();
  const failAll = (message: string) => {
    for (const { reject } of pending.values()) reject(new Error(message));
    pending.clear();
  };
  const spawn = (): Worker => {
    const w = new Worker(new URL("./local_render_worker.ts", import.meta.url), { type: "module" });
    w.onmessage = (event: MessageEvent<RenderReply>) => {
      const reply = event.data;
      const waiting = pending.get(reply.id);
      if (!waiting) return;
      pending.delete(reply.id);
      if ("bytes" in reply) waiting.resolve(reply.bytes);
      else waiting.reject(new Error(reply.error));
    };
    w.onerror = (event) => {
      // The thread died (out of memory, a bug): what it held fails, the next render starts anew.
      event.preventDefault();
      if (thread === w) thread = undefined;
      w.terminate();
      failAll(`render thread failed: ${event.message}`);
    };
    return w;
  };
  const started = (): Worker => (thread ??= spawn());
  return {
    render(options) {
      const id = nextId++;
      const promise = new Promise<Uint8Array<ArrayBuffer>>((resolve, reject) => {
        pending.set(id, { resolve, reject });
      });
      started().postMessage({ id, options } satisfies RenderRequest);
      return promise;
    },
    start() {
      started();
    },
    close() {
      thread?.terminate();
      thread = undefined;
      failAll("render thread closed");
    },
  };
}

/** Serves render requests on a worker thread's global scope (the thread's entry module). */
export function serveRenders(scope: {
  onmessage: ((event: MessageEvent<RenderRequest>) => void) | null;
  postMessage(message: RenderReply, transfer: Transferable[]): void;
}): void {
  scope.onmessage = ({ data: { id, options } }) => {
    try {
      const bytes = renderPng(options);
      scope.postMessage({ id, bytes }, [bytes.buffer]);
    } catch (err) {
      scope.postMessage({ id, error: err instanceof Error ? err.message : String(err) }, []);
    }
  };
}
