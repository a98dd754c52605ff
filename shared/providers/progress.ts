/** Reads tqdm-style progress bars out of a model's logs (diffusers, flux and most cog models). */

/** `40%|████      | 8/20 [` : a percentage, a bar and optionally the counters. */
const BAR = /(\d{1,3}(?:\.\d+)?)%\s*\|[^|\r\n]*\|\s*(?:(\d+)\/(\d+))?/g;
/** `8/20 [00:00<00:01, 10.0it/s]` : counters followed by tqdm's timing block, no bar. */
const COUNTER = /(?:^|[\s|])(\d+)\/(\d+)\s*\[\d+:\d+/g;
/** ANSI escapes (colours, cursor moves) that some progress bars write between updates. */
// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

/**
 * The last progress reported in `logs` as a percentage from 0 to 100, or null when there is none.
 * Counters (`20/50`) win over the printed percentage, which tqdm rounds down.
 */
export function parseProgress(logs: string): number | null {
  if (!logs) return null;
  const lines = logs.replace(ANSI, "").split(/[\r\n]+/);
  for (let i = lines.length - 1; i >= 0; i--) {
    const found = lastProgressInLine(lines[i]);
    if (found !== null) return found;
  }
  return null;
}

/** The rightmost progress on one line (a line may hold several updates without a newline). */
function lastProgressInLine(line: string): number | null {
  let best: { at: number; value: number } | null = null;
  for (const match of line.matchAll(BAR)) {
    const fromCounts = ratio(match[2], match[3]);
    const value = fromCounts ?? Number(match[1]);
    if (Number.isFinite(value) && (best === null || match.index >= best.at)) {
      best = { at: match.index, value };
    }
  }
  for (const match of line.matchAll(COUNTER)) {
    const value = ratio(match[1], match[2]);
    if (value !== null && (best === null || match.index > best.at)) {
      best = { at: match.index, value };
    }
  }
  return best === null ? null : Math.min(100, Math.max(0, best.value));
}

function ratio(current: string | undefined, total: string | undefined): number | null {
  if (current === undefined || total === undefined) return null;
  const n = Number(current);
  const d = Number(total);
  if (!Number.isFinite(n) || !Number.isFinite(d) || d <= 0) return null;
  return (n / d) * 100;
}
