/**
 * Property-based fuzz tests of GET /images/{file} and GET /events, run against the real app (its
 * own Postgres schema and BullMQ prefix). Traversal attempts and odd Range headers must never leak
 * a file outside the generated images; any Last-Event-ID must leave the event stream open. Set
 * FUZZ_SEED to replay a run; every test prints how many cases it ran. The generators live in
 * shared/testing/fuzz/.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import fc from "fast-check";
import {
  assertStatusIn,
  CaseCounter,
  describe,
  fuzzParams,
  observedHub,
  PREFIX,
  probeEvents,
  send,
  type Sent,
  submit,
} from "../shared/testing/fuzz/harness.ts";
import { lastEventId, rangeHeaders } from "../shared/testing/fuzz/http.ts";
import {
  IMAGE_PIECES,
  normalizedPath,
  pathSegment,
  tryDecode,
} from "../shared/testing/fuzz/paths.ts";
import { enc, RAW_JUNK } from "../shared/testing/fuzz/query.ts";
import { concatBytes } from "../shared/testing/fuzz/text.ts";
import { createApp } from "./app.ts";
import { withApp } from "./app_testing.ts";

const encoder = new TextEncoder();
const FC_PARAMS = fuzzParams();

/** Each fuzz test gets its own real dependencies and app (the shared test harness). */
const fuzzTest = withApp;

// ---------------------------------------------------------------------------------------------
// Tests: GET /images/{file}
// ---------------------------------------------------------------------------------------------

fuzzTest("fuzz: GET /images/{file} serves only stored images and 404s traversal", async (
  deps,
  app,
) => {
  const counter = new CaseCounter();
  const ok = concatBytes([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "stored image bytes");
  const secret = encoder.encode("SECRET outside generated/");
  const partial = encoder.encode("PARTIAL download in tmp/");
  await Deno.mkdir(join(deps.storageRoot, "generated"), { recursive: true });
  await Deno.mkdir(join(deps.storageRoot, "tmp"), { recursive: true });
  await Deno.writeFile(join(deps.storageRoot, "generated", "ok-0.png"), ok);
  await Deno.writeFile(join(deps.storageRoot, "secret.png"), secret);
  await Deno.writeFile(join(deps.storageRoot, "tmp", "partial.png"), partial);
  const includes = (hay: Uint8Array, needle: Uint8Array) =>
    new TextDecoder("latin1").decode(hay).includes(new TextDecoder("latin1").decode(needle));
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          { weight: 4, arbitrary: pathSegment(IMAGE_PIECES) },
          { weight: 1, arbitrary: fc.constantFrom(...IMAGE_PIECES) },
        ),
        fc.option(rangeHeaders, { nil: undefined }),
        async (segment, conditional) => {
          counter.hit("GET /images/{file}");
          const req: Sent = {
            method: "GET",
            path: `/images/${segment}`,
            headers: conditional ?? {},
          };
          const answer = await send(app, req);
          const normalized = normalizedPath(req.path);
          const target = normalized.startsWith("/images/")
            ? tryDecode(normalized.slice("/images/".length))
            : undefined;
          for (const forbidden of [secret, partial, encoder.encode("root:")]) {
            assert.ok(!includes(answer.bytes, forbidden), `${describe(req)} leaked a file`);
          }
          if (target === "ok-0.png") {
            assertStatusIn(answer, [200, 206, 304, 416], req);
          } else if (target !== undefined) {
            assertStatusIn(answer, [404], req);
          }
          if (target === undefined) return; // normalised out of /images (e.g. to the UI at /)
          if (answer.status === 200) assert.deepEqual(answer.bytes, ok);
          if (answer.status === 206) {
            const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(answer.headers.get("content-range") ?? "");
            assert.ok(m, `206 without a valid Content-Range for ${describe(req)}`);
            assert.deepEqual(answer.bytes, ok.slice(Number(m[1]), Number(m[2]) + 1));
          }
        },
      ),
      FC_PARAMS,
    );
  } finally {
    counter.report("images");
  }
});

// ---------------------------------------------------------------------------------------------
// Tests: GET /events with odd Last-Event-ID
// ---------------------------------------------------------------------------------------------

fuzzTest("fuzz: GET /events survives any Last-Event-ID", async (deps) => {
  const counter = new CaseCounter();
  const { observed, replays } = observedHub(deps.events);
  const app = createApp({ ...deps, events: observed });
  for (let i = 0; i < 3; i++) await submit(app, `event ${i}`);
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          {
            weight: 3,
            arbitrary: lastEventId.map((id) => ({
              method: "GET",
              path: `${PREFIX}/events`,
              headers: { "last-event-id": id },
            })),
          },
          {
            weight: 1,
            arbitrary: fc.oneof(
              lastEventId.map(enc),
              fc.string({ unit: "grapheme", maxLength: 30 }).map(enc),
              fc.constantFrom(...RAW_JUNK),
            ).map((q) => ({
              method: "GET",
              path: `${PREFIX}/events?last_event_id=${q}`,
              headers: {},
            })),
          },
        ),
        async (req: Sent) => {
          counter.hit("GET /api/v1/events");
          await probeEvents(app, replays, req);
        },
      ),
      FC_PARAMS,
    );
    // Every cancelled stream let go of its subscription.
    for (let i = 0; i < 100 && deps.events.subscribers() > 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(deps.events.subscribers(), 0, "SSE subscriptions leaked");
  } finally {
    counter.report("events");
  }
});

// ---------------------------------------------------------------------------------------------
// Targeted regressions
// ---------------------------------------------------------------------------------------------

fuzzTest("regression: Last-Event-ID beyond Postgres' timestamp range keeps the stream open", async (
  deps,
) => {
  const { observed, replays } = observedHub(deps.events);
  const app = createApp({ ...deps, events: observed });
  for (const id of ["99999999999999999999", "9300000000000000000"]) {
    await probeEvents(app, replays, {
      method: "GET",
      path: `${PREFIX}/events`,
      headers: { "last-event-id": id },
    });
  }
});
