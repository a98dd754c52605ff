/** Pure formatting helpers: relative times, durations, sizes and download file names. */

const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** "just now", "40 s ago", "2 min ago", "3 h ago", "yesterday", "5 days ago", then "12 Mar". */
export function formatRelative(iso: string | null | undefined, now: number): string {
  if (!iso) return "";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "";
  const s = Math.round((now - t) / 1000);
  if (s < -30) return "in the future";
  if (s < 10) return "just now";
  if (s < MINUTE) return `${s} s ago`;
  if (s < HOUR) return `${Math.floor(s / MINUTE)} min ago`;
  if (s < DAY) return `${Math.floor(s / HOUR)} h ago`;
  const days = Math.floor(s / DAY);
  if (days === 1) return "yesterday";
  if (days < 7) return `${days} days ago`;
  const d = new Date(t);
  const sameYear = d.getFullYear() === new Date(now).getFullYear();
  return `${d.getDate()} ${MONTHS[d.getMonth()]}${sameYear ? "" : ` ${d.getFullYear()}`}`;
}

/** The exact local time, for a `title` attribute. */
export function formatExact(iso: string | null | undefined): string {
  if (!iso) return "";
  const t = Date.parse(iso);
  return Number.isNaN(t) ? "" : new Date(t).toLocaleString();
}

/** "0.8 s", "12 s", "1 min 05 s", "1 h 02 min". */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) {
    return "";
  }
  if (seconds < 10) return `${Math.round(seconds * 10) / 10} s`;
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

/** "812 B", "79.3 KB", "1.2 MB". */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

const EXTENSIONS: Record<string, string> = {
  "image/png": "png",
  "image/jpeg": "jpg",
  "image/webp": "webp",
  "image/gif": "gif",
  "image/avif": "avif",
};

/**
 * A download name from the prompt: `a-lighthouse-on-a-cliff-5b7c1a2e-2.webp`. Only ASCII letters,
 * digits and dashes, at most 60 characters of prompt cut at a word boundary, the job's short id,
 * the image number when there are several, and an extension from the content type.
 */
export function fileNameFromPrompt(
  prompt: string,
  options: { id?: string; index?: number; count?: number; contentType?: string } = {},
): string {
  const words = prompt.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
    .replace(/[^a-z0-9]+/g, " ").trim().split(" ").filter(Boolean);
  let slug = "";
  for (const w of words) {
    const next = slug ? `${slug}-${w}` : w;
    if (next.length > 60) {
      if (!slug) slug = w.slice(0, 60);
      break;
    }
    slug = next;
  }
  const parts = [slug || "darkroom"];
  const shortId = (options.id ?? "").replace(/[^a-z0-9]/gi, "").slice(0, 8).toLowerCase();
  if (shortId) parts.push(shortId);
  if ((options.count ?? 1) > 1) parts.push(String((options.index ?? 0) + 1));
  const ext = EXTENSIONS[(options.contentType ?? "").toLowerCase()] ?? "png";
  return `${parts.join("-")}.${ext}`;
}

/** Shortens text to `max` characters with an ellipsis. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1).trimEnd()}…`;
}
