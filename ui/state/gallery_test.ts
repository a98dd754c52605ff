import assert from "node:assert/strict";
import type { Job } from "./jobs.ts";
import {
  apiQuery,
  dayStart,
  filtersOf,
  galleryTiles,
  isFiltered,
  justifyRows,
  matchesLiveFilters,
  matchesPageFilters,
  matchesQuery,
  targetRowHeight,
} from "./gallery.ts";
import { DEFAULT_URL_STATE } from "./url.ts";

function job(id: string, patch: Partial<Job> = {}): Job {
  const at = "2025-03-12T12:00:00.000Z";
  return {
    id,
    prompt: `prompt ${id}`,
    negative_prompt: null,
    model: "local/aurora",
    parameters: { width: 832, height: 1216 },
    status: "completed",
    progress: 100,
    media_path: null,
    images: [],
    image_url: null,
    error_message: null,
    retry_count: 0,
    created_at: at,
    started_at: null,
    completed_at: null,
    updated_at: at,
    ...patch,
  };
}

function image(n: number, width: number | null = 1024, height: number | null = 1024) {
  return {
    url: `/images/${n}.png`,
    thumbnail_url: `/images/${n}.thumb.webp`,
    content_type: "image/png",
    width,
    height,
    bytes: 1000,
  };
}

Deno.test("tiles: one per image, one per job without images, nothing for missing images", () => {
  const jobs = [
    job("three", { images: [image(1), image(2), image(3, 832, 1216)] }),
    job("running", { status: "processing" }),
    job("unknown-size", { images: [image(4, null, null)] }),
  ];
  const tiles = galleryTiles(jobs);
  assert.deepEqual(tiles.map((t) => t.key), [
    "three:0",
    "three:1",
    "three:2",
    "running:0",
    "unknown-size:0",
  ]);
  assert.equal(tiles.filter((t) => t.job.id === "three").length, 3, "no empty fourth tile");
  assert.deepEqual([tiles[2].width, tiles[2].height], [832, 1216]);
  assert.equal(tiles[3].img, undefined);
  // Without the image's size: the size the job asked for.
  assert.deepEqual([tiles[4].width, tiles[4].height], [832, 1216]);
});

const sum = (ns: number[]) => ns.reduce((a, b) => a + b, 0);

Deno.test("justified rows: full rows fill the width exactly, in order, at the same height", () => {
  const sizes = [
    { width: 1024, height: 1024 },
    { width: 832, height: 1216 },
    { width: 1344, height: 768 },
    { width: 768, height: 1344 },
    { width: 1024, height: 1024 },
    { width: 1216, height: 832 },
    { width: 1024, height: 1024 },
    { width: 832, height: 1216 },
    { width: 1024, height: 1024 },
    { width: 1024, height: 1024 },
  ];
  for (const width of [390, 760, 1180, 1392]) {
    const options = { width, rowHeight: targetRowHeight(width), gap: 8 };
    const rows = justifyRows(sizes, options);
    // Every tile once, in order.
    assert.deepEqual(rows.flatMap((r) => r.items.map((i) => i.index)), sizes.map((_, i) => i));
    for (const [n, row] of rows.entries()) {
      const used = sum(row.items.map((i) => i.width)) + 8 * (row.items.length - 1);
      const last = n === rows.length - 1;
      if (!last) {
        assert.ok(Math.abs(used - width) < 0.5, `row ${n} at ${width}: ${used}`);
        assert.equal(row.full, true);
      } else {
        assert.ok(used <= width + 0.5, `last row at ${width}: ${used}`);
      }
      // Each tile keeps its aspect ratio at the row's height.
      for (const item of row.items) {
        const s = sizes[item.index];
        assert.ok(Math.abs(item.width - row.height * s.width / s.height) < 0.02);
      }
      // Near the target: no row squashed or blown up.
      assert.ok(row.height <= options.rowHeight * 2, `${row.height}`);
      assert.ok(row.height >= options.rowHeight * 0.5, `${row.height} at ${width}`);
    }
  }
});

Deno.test("justified rows: a short last row keeps the target height; odd shapes are capped", () => {
  const rows = justifyRows([{ width: 1, height: 1 }, { width: 1, height: 1 }], {
    width: 1000,
    rowHeight: 200,
    gap: 10,
  });
  assert.equal(rows.length, 1);
  assert.equal(rows[0].height, 200);
  assert.equal(rows[0].full, false);
  assert.deepEqual(rows[0].items.map((i) => i.width), [200, 200]);
  // A panorama fills a row alone (at most 4:1); a sliver is drawn as 1:4.
  const odd = justifyRows([{ width: 10000, height: 100 }, { width: 10, height: 1000 }], {
    width: 800,
    rowHeight: 240,
    gap: 8,
  });
  assert.deepEqual(odd.map((r) => r.items.length), [1, 1]);
  assert.equal(odd[0].height, 200);
  assert.equal(odd[0].items[0].width, 800);
  assert.equal(odd[1].items[0].width, 60);
  assert.deepEqual(justifyRows([{ width: 1, height: 1 }], { width: 0, rowHeight: 1, gap: 0 }), []);
  assert.deepEqual(justifyRows([], { width: 500, rowHeight: 100, gap: 0 }), []);
});

Deno.test("search words: every word starts a word of the prompt or negative prompt", () => {
  const j = job("a", { prompt: "A Lighthouse, red; at dusk", negative_prompt: "blurry" });
  assert.ok(matchesQuery(j, "light"));
  assert.ok(matchesQuery(j, "DUSK red"));
  assert.ok(matchesQuery(j, "blur"));
  assert.ok(matchesQuery(j, "  ,, "));
  assert.ok(!matchesQuery(j, "house"), "words match from their start");
  assert.ok(!matchesQuery(j, "red cat"));
  assert.ok(matchesQuery(job("b", { prompt: "Crème brûlée" }), "brû"));
});

Deno.test("filters: from the URL, to the API (days as local midnights), and checked here", () => {
  const state = {
    ...DEFAULT_URL_STATE,
    tab: "history" as const,
    q: " red car ",
    model: "owner/name",
    starred: true,
    from: "2025-03-01",
    to: "2025-03-12",
    sort: "oldest" as const,
    page: 3,
    job: "x",
  };
  const f = filtersOf(state);
  assert.deepEqual(f, {
    status: "",
    q: "red car",
    model: "owner/name",
    starred: true,
    from: "2025-03-01",
    to: "2025-03-12",
    sort: "oldest",
  });
  assert.ok(isFiltered(f));
  assert.ok(!isFiltered(filtersOf({ ...DEFAULT_URL_STATE, sort: "oldest" })));
  assert.deepEqual(apiQuery(f), {
    q: "red car",
    model: "owner/name",
    starred: true,
    after: new Date(2025, 2, 1).toISOString(),
    before: new Date(2025, 2, 13).toISOString(),
    sort: "oldest",
  });
  assert.equal(dayStart("2025-12-31", 1), new Date(2026, 0, 1).toISOString());

  const base = { status: "" as const, q: "" };
  const inMarch = job("m", { created_at: new Date(2025, 2, 12, 23, 59).toISOString() });
  assert.ok(matchesPageFilters(inMarch, { ...base, from: "2025-03-12", to: "2025-03-12" }));
  assert.ok(!matchesPageFilters(inMarch, { ...base, to: "2025-03-11" }));
  assert.ok(!matchesPageFilters(inMarch, { ...base, from: "2025-03-13" }));
  const versioned = job("v", { model: "owner/name:abc123" });
  assert.ok(matchesPageFilters(versioned, { ...base, model: "owner/name" }));
  assert.ok(!matchesPageFilters(versioned, { ...base, model: "owner/nam" }));
  // A server without stars: nothing is starred. With stars: the page's choice stands.
  assert.ok(!matchesPageFilters(job("s"), { ...base, starred: true }));
  assert.ok(matchesPageFilters(job("s", { starred: false }), { ...base, starred: true }));

  // Live arrivals are checked on everything; a collection cannot be checked, so none arrive.
  const live = job("l", { status: "processing", provider: "fal", starred: false });
  assert.ok(matchesLiveFilters(live, { ...base, status: "processing", provider: "fal" }));
  assert.ok(!matchesLiveFilters(live, { ...base, status: "completed" }));
  assert.ok(!matchesLiveFilters(live, { ...base, provider: "local" }));
  assert.ok(!matchesLiveFilters(live, { ...base, starred: true }));
  assert.ok(!matchesLiveFilters(live, { ...base, collection: "c" }));
  assert.ok(matchesLiveFilters(job("o", { status: "pending", local: true }), {
    ...base,
    status: "processing",
  }));
});
