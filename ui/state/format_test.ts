import assert from "node:assert/strict";
import {
  fileNameFromPrompt,
  formatBytes,
  formatDuration,
  formatRelative,
  secondsBetween,
  truncate,
} from "./format.ts";

const NOW = Date.parse("2025-06-15T12:00:00Z");
const ago = (s: number) => new Date(NOW - s * 1000).toISOString();

Deno.test("formatRelative: seconds, minutes, hours, days, then a date", () => {
  assert.equal(formatRelative(ago(3), NOW), "just now");
  assert.equal(formatRelative(ago(40), NOW), "40 s ago");
  assert.equal(formatRelative(ago(120), NOW), "2 min ago");
  assert.equal(formatRelative(ago(59 * 60 + 59), NOW), "59 min ago");
  assert.equal(formatRelative(ago(3 * 3600 + 5), NOW), "3 h ago");
  assert.equal(formatRelative(ago(30 * 3600), NOW), "yesterday");
  assert.equal(formatRelative(ago(5 * 86400), NOW), "5 days ago");
  const old = new Date(NOW - 40 * 86400 * 1000);
  assert.match(formatRelative(old.toISOString(), NOW), /^\d{1,2} May$/);
  assert.match(formatRelative("2023-01-02T12:00:00Z", NOW), /^\d{1,2} Jan 2023$/);
});

Deno.test("formatRelative: small clock skew is 'just now', bad input is empty", () => {
  assert.equal(formatRelative(new Date(NOW + 5000).toISOString(), NOW), "just now");
  assert.equal(formatRelative(new Date(NOW + 3_600_000).toISOString(), NOW), "in the future");
  assert.equal(formatRelative("not a date", NOW), "");
  assert.equal(formatRelative(null, NOW), "");
});

Deno.test("formatDuration and secondsBetween", () => {
  assert.equal(formatDuration(0.84), "0.8 s");
  assert.equal(formatDuration(12.4), "12 s");
  assert.equal(formatDuration(65), "1 min 05 s");
  assert.equal(formatDuration(3720), "1 h 02 min");
  assert.equal(formatDuration(null), "");
  assert.equal(formatDuration(-1), "");
  assert.equal(secondsBetween("2025-01-01T00:00:00Z", "2025-01-01T00:00:02.500Z"), 2.5);
  assert.equal(secondsBetween(null, "2025-01-01T00:00:00Z"), null);
  assert.equal(secondsBetween("2025-01-01T00:00:02Z", "2025-01-01T00:00:00Z"), null);
});

Deno.test("formatBytes and truncate", () => {
  assert.equal(formatBytes(812), "812 B");
  assert.equal(formatBytes(81234), "79.3 KB");
  assert.equal(formatBytes(1.5 * 1024 * 1024), "1.5 MB");
  assert.equal(truncate("short", 10), "short");
  assert.equal(truncate("a long sentence here", 8), "a long…");
});

Deno.test("fileNameFromPrompt: a safe slug, the short id, the image number and extension", () => {
  assert.equal(
    fileNameFromPrompt("A lighthouse on a cliff, at dusk!", {
      id: "5b7c1a2e-0000-4000-8000-000000000000",
      index: 1,
      count: 4,
      contentType: "image/webp",
    }),
    "a-lighthouse-on-a-cliff-at-dusk-5b7c1a2e-2.webp",
  );
  assert.equal(
    fileNameFromPrompt("Crème brûlée", { contentType: "image/jpeg" }),
    "creme-brulee.jpg",
  );
  assert.equal(fileNameFromPrompt("一只猫 🐱"), "darkroom.png");
  assert.equal(
    fileNameFromPrompt("<img src=x onerror=alert(1)> ../../etc/passwd"),
    "img-src-x-onerror-alert-1-etc-passwd.png",
  );
  const long = fileNameFromPrompt("word ".repeat(50), { count: 1 });
  assert.ok(long.length <= 64, long);
  assert.match(long, /^word(-word)*\.png$/);
  assert.equal(fileNameFromPrompt("x".repeat(100)).length, 64);
});
