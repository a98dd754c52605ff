/** GET /events: live job changes as Server-Sent Events. */
import { errorExample, type Json, jsonError } from "./builders.ts";
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
          "15 s of silence. A stream carries only the jobs its key may see, deletions included, " +
          "and ends within seconds of its key being revoked. Each key may hold " +
          "`MAX_STREAMS_PER_KEY` streams at once (429 beyond).",
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
          {
            name: "access_token",
            in: "query",
            required: false,
            description: "The API key, for EventSource (which cannot send headers). Accepted " +
              "here only: anywhere else a key in the URL is refused with 401.",
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
          429: jsonError("The key already holds `MAX_STREAMS_PER_KEY` open streams.", {
            streams: errorExample(
              "rate_limited",
              "Too many live streams: at most 5 open at once; close one and try again",
            ),
          }),
        },
      },
    },
  };
}
