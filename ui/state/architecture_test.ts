import assert from "node:assert/strict";
import type { StatsJson } from "../api_client.ts";
import {
  countOf,
  diagramContent,
  FONT,
  layoutDiagram,
  packLines,
  TALL_MAX,
  textWidth,
  WIDE_MIN,
  WIDE_WIDTH,
} from "./architecture.ts";

function stats(over: Partial<StatsJson> = {}): StatsJson {
  return {
    queue: { backend: "bullmq", waiting: 0, active: 0, delayed: 0, failed: 0 },
    workers: { online: 1, capacity: 2, active: 0 },
    jobs_last_hour: { total: 1, by_status: { completed: 1 } },
    median_duration_s: 2.1,
    database: "postgres",
    providers: [{ name: "local", configured: true }, { name: "replicate", configured: false }],
    ...over,
  };
}

const lines = (c: ReturnType<typeof diagramContent>, id: keyof typeof c.nodes) =>
  c.nodes[id].parts.map((g) => g.join(" · "));

Deno.test("countOf: singular, plural and unknown", () => {
  assert.equal(countOf(1, "job"), "1 job");
  assert.equal(countOf(0, "job"), "0 jobs");
  assert.equal(countOf(2, "job"), "2 jobs");
  assert.equal(countOf(1200, "job"), "1,200 jobs");
  assert.equal(countOf(undefined, "job"), "– jobs");
});

Deno.test("diagramContent: a status missing from by_status counts 0 once stats are loaded", () => {
  const c = diagramContent(stats());
  assert.deepEqual(lines(c, "db"), ["1 job / hour", "1 done · 0 failed"]);
  const two = diagramContent(stats({ jobs_last_hour: { total: 2, by_status: { failed: 2 } } }));
  assert.deepEqual(lines(two, "db"), ["2 jobs / hour", "0 done · 2 failed"]);
  assert.deepEqual(lines(c, "worker"), ["0 / 2 slots busy", "deno task worker"]);
  const one = diagramContent(stats({ workers: { online: 1, capacity: 1, active: 1 } }));
  assert.deepEqual(lines(one, "worker")[0], "1 / 1 slot busy");
});

Deno.test("diagramContent: dashes until the first answer", () => {
  const c = diagramContent(null);
  assert.deepEqual(lines(c, "db"), ["– jobs / hour", "– done · – failed"]);
  assert.equal(c.nodes.worker.title, "Workers × –");
  assert.equal(c.nodes.worker.warn, false);
  assert.equal(c.summary, "Live figures are loading.");
});

Deno.test("diagramContent: names the queue and database backends", () => {
  const scaled = diagramContent(stats());
  assert.equal(scaled.nodes.queue.title, "Redis (BullMQ)");
  assert.equal(scaled.nodes.db.title, "Postgres");
  assert.equal(scaled.nodes.queue.note, undefined);
  assert.equal(scaled.nodes.db.note, undefined);
  assert.equal(scaled.embedded, false);

  const embedded = diagramContent(stats({
    queue: { backend: "kv", waiting: 3, active: 1, delayed: 0, failed: 1 },
    database: "pglite",
  }));
  assert.equal(embedded.nodes.queue.title, "Deno KV queue");
  assert.equal(embedded.nodes.queue.note, "embedded");
  assert.equal(embedded.nodes.db.title, "PGlite");
  assert.equal(embedded.nodes.db.note, "embedded");
  assert.equal(embedded.nodes.queue.warn, true);
  assert.equal(embedded.active.enqueue, true);
  assert.equal(embedded.embedded, true);
  assert.deepEqual(lines(embedded, "worker")[1], "in the API process");
});

Deno.test("packLines: keeps groups together, splits what cannot fit", () => {
  const groups = [["0 waiting", "0 active"], ["0 delayed", "0 failed"]];
  assert.deepEqual(packLines(groups, 1000, 13), ["0 waiting · 0 active · 0 delayed · 0 failed"]);
  const pair = textWidth("0 waiting · 0 active", 13);
  assert.deepEqual(packLines(groups, pair + 1, 13), [
    "0 waiting · 0 active",
    "0 delayed · 0 failed",
  ]);
  assert.deepEqual(packLines(groups, textWidth("0 delayed", 13) + 1, 13), [
    "0 waiting",
    "0 active",
    "0 delayed",
    "0 failed",
  ]);
  assert.deepEqual(packLines([["a long phrase here"]], textWidth("a long", 13) + 1, 13), [
    "a long",
    "phrase",
    "here",
  ]);
});

Deno.test("layoutDiagram: every box on screen and no text under 12 px, phone to desktop", () => {
  const contents = [
    diagramContent(null),
    diagramContent(stats()),
    diagramContent(stats({
      queue: { backend: "kv", waiting: 12_345, active: 64, delayed: 3, failed: 1_000 },
      workers: { online: 12, capacity: 256, active: 200 },
      database: "pglite",
    })),
  ];
  // Content widths of the figure: 360 and 390 px phones, a tablet, a laptop, a desktop.
  for (const width of [306, 336, 700, 942, WIDE_MIN, 1358]) {
    for (const content of contents) {
      const layout = layoutDiagram(content, width);
      assert.equal(layout.mode, width >= WIDE_MIN ? "wide" : "tall", `${width}`);
      // Drawn at min(width, maxWidth): the scale the viewBox gets on the page.
      const scale = Math.min(width, layout.maxWidth) / layout.width;
      assert.ok(Math.min(FONT.title, FONT.line, FONT.edge) * scale >= 12, `${width}: ${scale}`);
      assert.equal(layout.width, layout.mode === "tall" ? Math.min(width, TALL_MAX) : WIDE_WIDTH);
      assert.equal(layout.nodes.length, 7);
      for (const n of layout.nodes) {
        assert.ok(n.x >= 0 && n.x + n.width <= layout.width, `${width} ${n.id} x`);
        assert.ok(n.y >= 0 && n.y + n.height <= layout.height, `${width} ${n.id} y`);
        const inner = n.width - 24;
        assert.ok(textWidth(n.title, FONT.title, true) <= inner, `${width} ${n.title}`);
        for (const line of n.lines) {
          assert.ok(textWidth(line, FONT.line) <= inner, `${width} ${n.id}: ${line}`);
        }
        for (const m of layout.nodes) {
          if (m === n) continue;
          const apart = n.x + n.width <= m.x || m.x + m.width <= n.x ||
            n.y + n.height <= m.y || m.y + m.height <= n.y;
          assert.ok(apart, `${width}: ${n.id} overlaps ${m.id}`);
        }
      }
      for (const e of layout.edges) {
        for (const l of e.labels) {
          assert.ok(l.x >= 0 && l.x <= layout.width && l.y > 0 && l.y <= layout.height, e.id);
        }
      }
    }
  }
});

Deno.test("layoutDiagram: the figures tests and people read are in the boxes", () => {
  const layout = layoutDiagram(diagramContent(stats()), 336);
  const db = layout.nodes.find((n) => n.id === "db")!;
  assert.equal(db.title, "Postgres");
  assert.match(db.lines.join(" | "), /\b1 job \/ hour\b.*\b1 done\b.*\b0 failed\b/);
  const worker = layout.nodes.find((n) => n.id === "worker")!;
  assert.equal(worker.title, "Workers × 1");
  const kv = layoutDiagram(
    diagramContent(stats({ queue: { ...stats().queue, backend: "kv" }, database: "pglite" })),
    1358,
  );
  const queue = kv.nodes.find((n) => n.id === "queue")!;
  // "Deno KV queue (embedded)" is too long for a wide-layout box: the note gets its own line.
  assert.equal(queue.title, "Deno KV queue");
  assert.equal(queue.lines[0], "embedded");
  assert.equal(queue.noteLine, true);
  const tall = layoutDiagram(
    diagramContent(stats({ queue: { ...stats().queue, backend: "kv" }, database: "pglite" })),
    390,
  );
  assert.equal(tall.nodes.find((n) => n.id === "queue")!.title, "Deno KV queue (embedded)");
  assert.equal(tall.nodes.find((n) => n.id === "db")!.title, "PGlite (embedded)");
});

Deno.test("diagramContent: a key's own figures leave the queue and workers as dashes", () => {
  const c = diagramContent({
    scope: "key",
    queue: { backend: "bullmq" },
    jobs_last_hour: { total: 3, by_status: { completed: 2, failed: 1 } },
    median_duration_s: 1.5,
    database: "postgres",
    providers: [{ name: "local", configured: true }],
    live_clients: 1,
  });
  assert.deepEqual(lines(c, "db"), ["your 3 jobs / hour", "2 done · 1 failed"]);
  assert.deepEqual(lines(c, "queue"), ["– waiting · – active", "– delayed · – failed"]);
  assert.equal(c.nodes.queue.title, "Redis (BullMQ)");
  assert.equal(c.nodes.worker.title, "Workers × –");
  assert.equal(c.nodes.worker.warn, false, "no workers is not claimed without the figure");
  assert.match(c.summary, /3 jobs of this key in the last hour; queue and worker figures are/);
  assert.ok(layoutDiagram(c, 1000), "it lays out like any other answer");
});

Deno.test("diagramContent: each provider says whether it takes work, and a down one warns", () => {
  const ok = diagramContent(stats());
  assert.deepEqual(lines(ok, "provider"), ["local: ready", "replicate: off"]);
  assert.equal(ok.nodes.provider.warn, false);
  const down = diagramContent(stats({
    providers: [
      { name: "local", configured: true, status: "up" },
      { name: "replicate", configured: true, status: "down", last_error: "status 503" },
      { name: "fal", configured: true, status: "probing" },
    ],
  }));
  assert.deepEqual(lines(down, "provider"), ["local: ready", "replicate: down", "fal: probing"]);
  assert.equal(down.nodes.provider.warn, true);
  assert.match(down.summary, /Provider down: replicate\./);
});
