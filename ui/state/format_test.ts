import assert from "node:assert/strict";
import {
  formatBytes,
  formatDate,
  formatDuration,
  formatExact,
  formatNumber,
  formatRelative,
  secondsBetween,
  truncate,
} from "./format.ts";

const NOW = Date.parse("2025-06-15T12:00:00Z");
const ago = (s: number) => new Date(NOW - s * 1000).toISOString();

Deno.test("formatRelative: seconds, minutes, hours, days, then a date, in the locale", () => {
  const en = (iso: string) => formatRelative(iso, NOW, "en");
  assert.equal(en(ago(3)), "now");
  assert.equal(en(ago(40)), "40 seconds ago");
  assert.equal(en(ago(120)), "2 minutes ago");
  assert.equal(en(ago(59 * 60 + 59)), "59 minutes ago");
  assert.equal(en(ago(3 * 3600 + 5)), "3 hours ago");
  assert.equal(en(ago(30 * 3600)), "yesterday");
  assert.equal(en(ago(5 * 86400)), "5 days ago");
  const old = new Date(NOW - 40 * 86400 * 1000);
  assert.match(en(old.toISOString()), /^May \d{1,2}$/);
  assert.match(en("2023-01-02T12:00:00Z"), /^Jan 2, 2023$/);
  // Not always the US form: the day first in British English, words in German.
  assert.match(formatRelative(old.toISOString(), NOW, "en-GB"), /^\d{1,2} May$/);
  assert.equal(formatRelative(ago(120), NOW, "de"), "vor 2 Minuten");
  assert.equal(formatRelative(ago(30 * 3600), NOW, "de"), "gestern");
});

Deno.test("formatRelative: small clock skew is 'now', bad input is empty", () => {
  assert.equal(formatRelative(new Date(NOW + 5000).toISOString(), NOW, "en"), "now");
  assert.equal(formatRelative(new Date(NOW + 3_600_000).toISOString(), NOW, "en"), "in 60 minutes");
  assert.equal(formatRelative("not a date", NOW), "");
  assert.equal(formatRelative(null, NOW), "");
});

Deno.test("formatExact, formatDate and formatNumber follow the locale", () => {
  const iso = "2025-03-12T12:05:09Z";
  assert.match(formatExact(iso, "en-US"), /^Mar 12, 2025, \d{1,2}:\d{2}:\d{2}\s?[AP]M$/);
  assert.match(formatExact(iso, "de-DE"), /^12\.03\.2025, \d{2}:\d{2}:\d{2}$/);
  assert.equal(formatExact(null), "");
  assert.equal(formatDate(iso, NOW, "en-GB"), "12 Mar");
  assert.equal(formatDate(iso, NOW, "en-US"), "Mar 12");
  assert.equal(formatNumber(1234567, 0, "en"), "1,234,567");
  assert.equal(formatNumber(1234567, 0, "de"), "1.234.567");
  assert.equal(formatNumber(0.25, 1, "fr"), "0,3");
});

Deno.test("formatDuration and secondsBetween", () => {
  assert.equal(formatDuration(0.84, "en"), "0.8 s");
  assert.equal(formatDuration(0.84, "de"), "0,8 s");
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
  assert.equal(formatBytes(81234, "en"), "79.3 KB");
  assert.equal(formatBytes(1.5 * 1024 * 1024, "en"), "1.5 MB");
  assert.equal(formatBytes(1.5 * 1024 * 1024, "de"), "1,5 MB");
  assert.equal(formatBytes(2 * 1024, "en"), "2.0 KB");
  assert.equal(truncate("short", 10), "short");
  assert.equal(truncate("a long sentence here", 8), "a long…");
});
