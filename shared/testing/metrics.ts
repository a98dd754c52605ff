/** Test helpers for the Prometheus text that /metrics answers (the API's and the worker's). */

/** Parses Prometheus text into sample → value; throws on a malformed line. */
export function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/.exec(line);
    if (!m) throw new Error(`Malformed metrics line: ${line}`);
    samples.set(m[1], Number(m[2]));
  }
  return samples;
}

/** Sums the samples whose name starts with `prefix` and that carry every one of `labels`. */
export function sumSamples(
  samples: Map<string, number>,
  prefix: string,
  ...labels: string[]
): number {
  let total = 0;
  for (const [key, value] of samples) {
    if (key.startsWith(prefix) && labels.every((l) => key.includes(l))) total += value;
  }
  return total;
}
