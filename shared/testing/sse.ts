/** Test helper: reads Server-Sent Events from a fetch Response. */

export interface SseEvent {
  event: string;
  id?: string;
  data: string;
}

/** Parses one SSE block (the text between blank lines); null for comments and empty blocks. */
function parseBlock(block: string): SseEvent | null {
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
  if (data.length === 0 && event.event === "message") return null;
  event.data = data.join("\n");
  return event;
}

/**
 * Collects events until `stop` returns true or `timeoutMs` passes (then it throws). The body is
 * cancelled either way, so the server side sees the client leave.
 */
export async function collectSse(
  res: Response,
  stop: (events: SseEvent[]) => boolean,
  timeoutMs = 5000,
): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    reader.cancel().catch(() => {});
  }, timeoutMs);
  try {
    while (!stop(events)) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = parseBlock(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (event) events.push(event);
      }
    }
    if (timedOut && !stop(events)) {
      throw new Error(`SSE: timed out with ${events.length} events`);
    }
    return events;
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => {});
  }
}
