/**
 * What the collapsed "Advanced settings" hide, in a few words ("250 steps · guidance 7.5 · high
 * priority · scheduler=K_EULER"), so a value set once is never reused unseen.
 */

/** The advanced fields of a draft (the form's; `steps` and `guidance` where it has them). */
export interface AdvancedFields {
  steps?: string;
  guidance?: string;
  extraJson: string;
  priority: string;
}

/** The non-default advanced values as short phrases; [] when everything is the default. */
export function advancedSummary(d: AdvancedFields, maxExtra = 3): string[] {
  const parts: string[] = [];
  if (d.steps?.trim()) parts.push(`${d.steps.trim()} steps`);
  if (d.guidance?.trim()) parts.push(`guidance ${d.guidance.trim()}`);
  if (d.priority && d.priority !== "normal") parts.push(`${d.priority} priority`);
  const text = d.extraJson.trim();
  if (!text) return parts;
  let extra: unknown;
  try {
    extra = JSON.parse(text);
  } catch {
    return [...parts, "extra parameters (not valid JSON)"];
  }
  if (!extra || typeof extra !== "object" || Array.isArray(extra)) return [...parts, "extra JSON"];
  const entries = Object.entries(extra);
  for (const [k, v] of entries.slice(0, maxExtra)) {
    const value = typeof v === "string" ? v : JSON.stringify(v);
    parts.push(`${k}=${value.length > 24 ? `${value.slice(0, 23)}…` : value}`);
  }
  if (entries.length > maxExtra) parts.push(`+${entries.length - maxExtra} more`);
  return parts;
}
