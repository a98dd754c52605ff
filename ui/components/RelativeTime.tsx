/** "2 min ago", with the exact time on hover; refreshes with the shared clock. */
import { now } from "../state/clock.ts";
import { formatExact, formatRelative } from "../state/format.ts";

export interface RelativeTimeProps {
  iso: string | null;
}

export function RelativeTime({ iso }: RelativeTimeProps) {
  if (!iso) return null;
  return <time dateTime={iso} title={formatExact(iso)}>{formatRelative(iso, now.value)}</time>;
}
