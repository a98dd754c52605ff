/**
 * Pure formatting helpers: relative times, durations and sizes (download names are in
 * download_name.ts). Dates and numbers follow the browser's locale (Intl); tests pass a locale of
 * their own.
 */

const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** A number in the locale: `1,234` (en), `1.234` (de), at most `digits` decimals. */
export function formatNumber(n: number, digits = 0, locale?: string): string {
  return n.toLocaleString(locale, { maximumFractionDigits: digits });
}

/**
 * "now", "40 seconds ago", "2 minutes ago", "3 hours ago", "yesterday", "5 days ago", then the
 * date ("12 Mar", "Mar 12", "12. März", with the year when it is not this year), in `locale`.
 */
export function formatRelative(
  iso: string | null | undefined,
  now: number,
  locale?: string,
): string {
  if (!iso) return "";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "";
  const s = Math.round((now - t) / 1000);
  const rtf = new Intl.RelativeTimeFormat(locale, { numeric: "auto" });
  if (s < -30) return rtf.format(Math.ceil(-s / MINUTE), "minute");
  if (s < 10) return rtf.format(0, "second");
  if (s < MINUTE) return rtf.format(-s, "second");
  if (s < HOUR) return rtf.format(-Math.floor(s / MINUTE), "minute");
  if (s < DAY) return rtf.format(-Math.floor(s / HOUR), "hour");
  const days = Math.floor(s / DAY);
  if (days < 7) return rtf.format(-days, "day");
  return formatDate(iso, now, locale);
}

/** The day of `iso` in the locale ("12 Mar"), with the year when it is not `now`'s year. */
export function formatDate(iso: string, now: number, locale?: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const sameYear = d.getFullYear() === new Date(now).getFullYear();
  return d.toLocaleDateString(locale, {
    day: "numeric",
    month: "short",
    ...(sameYear ? {} : { year: "numeric" }),
  });
}

/** The exact local time in the locale, for a `title` attribute. */
export function formatExact(iso: string | null | undefined, locale?: string): string {
  if (!iso) return "";
  const t = Date.parse(iso);
  return Number.isNaN(t)
    ? ""
    : new Date(t).toLocaleString(locale, { dateStyle: "medium", timeStyle: "medium" });
}

/** "0.8 s", "12 s", "1 min 05 s", "1 h 02 min" (decimals in the locale: "0,8 s" in German). */
export function formatDuration(
  seconds: number | null | undefined,
  locale?: string,
): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) {
    return "";
  }
  if (seconds < 10) return `${formatNumber(Math.round(seconds * 10) / 10, 1, locale)} s`;
  const s = Math.round(seconds);
  if (s < MINUTE) return `${s} s`;
  if (s < HOUR) return `${Math.floor(s / MINUTE)} min ${String(s % MINUTE).padStart(2, "0")} s`;
  return `${Math.floor(s / HOUR)} h ${
    String(Math.floor((s % HOUR) / MINUTE)).padStart(2, "0")
  } min`;
}

/** Seconds between two ISO times, or null when either is missing. */
export function secondsBetween(from: string | null, to: string | null): number | null {
  if (!from || !to) return null;
  const d = (Date.parse(to) - Date.parse(from)) / 1000;
  return Number.isFinite(d) && d >= 0 ? d : null;
}

/** "812 B", "79.3 KB", "1.2 MB" (decimals in the locale). */
export function formatBytes(bytes: number, locale?: string): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "";
  if (bytes < 1024) return `${bytes} B`;
  const kb = bytes < 1024 * 1024;
  const n = kb ? bytes / 1024 : bytes / 1024 / 1024;
  return `${n.toLocaleString(locale, { minimumFractionDigits: 1, maximumFractionDigits: 1 })} ${
    kb ? "KB" : "MB"
  }`;
}

/** Shortens text to `max` characters with an ellipsis. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1).trimEnd()}…`;
}
