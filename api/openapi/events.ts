/** GET /events: live job changes as Server-Sent Events. */
import type { Json } from "./builders.ts";
import { JOB_ID, PENDING_JOB } from "./examples.ts";

/** GET /events. */
export function eventPaths(prefix: string): Json {
  return {
    [`${prefix}/events`]: {
      get: {
        tags: ["Events"],
        operationId: "events",
        summary: "Live job changes (Server-Sent Events)",
        description: "First an `event: ready`, then `event: job` with the job's JSON (as GET " +
          '/jobs/{job_id}) each time a job changes, and `event: job_deleted` with `{"id"}` ' +
          "when one is deleted. Every event has an `id`: reconnect with `Last-Event-ID` (or " +
          "`?last_event_id=`) to get what changed meanwhile. A `: ping` comment is sent after " +
          "15 s of silence.",
        parameters: [
          {
            name: "Last-Event-ID",
            in: "header",
            required: false,
            description: "Resume after this event id.",
            schema: { type: "string" },
          },
          {
            name: "last_event_id",
            in: "query",
            required: false,
            description: "The same, for clients that cannot set headers (EventSource).",
            schema: { type: "string" },
          },
        ],
        responses: {
          200: {
            description: "An endless event stream.",
            content: {
              "text/event-stream": {
                schema: { type: "string" },
                example: `event: ready\ndata: {}\nretry: 2000\n\n` +
                  `event: job\nid: 1741064767000001\ndata: ${JSON.stringify(PENDING_JOB)}\n\n` +
                  `event: job_deleted\nid: 1741064767000002\ndata: {"id":"${JOB_ID}"}\n\n`,
              },
            },
          },
        },
      },
    },
  };
}
