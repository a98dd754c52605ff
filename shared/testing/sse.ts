/** Test helper: reads Server-Sent Events from a fetch Response. */

export interface SseEvent {
  event: string;
  id?: string;
  data: string;
}

/** Iterates the events of an SSE response body (comments are skipped). */
export async function* readSse(res: Response): AsyncGenerator<SseEvent> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event: SseEvent = { event: "message", data: "" };
        const data: string[] = [];
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const i = line.indexOf(":");
          const field = i < 0 ? line : line.slice(0, i);
          const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
          if (field === "event") event.event = value;
          else if (field === "id") event.id = value;
          else if (field === "data") data.push(value);
        }
        if (data.length === 0 && event.event === "message") continue;
        event.data = data.join("\n");
        yield event;
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** Collects events until `stop` returns true or `timeoutMs` passes. */
export async function collectSse(
  res: Response,
  stop: (events: SseEvent[]) => boolean,
  timeoutMs = 5000,
): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  const iterator = readSse(res);
  const deadline = Date.now() + timeoutMs;
  try {
    while (!stop(events)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`SSE: timed out with ${events.length} events`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const next = await Promise.race([
        iterator.next(),
        new Promise<null>((r) => (timer = setTimeout(() => r(null), left))),
      ]);
      clearTimeout(timer);
      if (next === null) throw new Error(`SSE: timed out with ${events.length} events`);
      if (next.done) break;
      events.push(next.value);
    }
  } finally {
    await iterator.return(undefined);
  }
  return events;
}
