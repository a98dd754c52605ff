/** Model references and the provider each names: `local/<style>`, `fal:<endpoint>`, else Replicate. */

/** Which provider serves a model reference. */
export type ProviderKind = "local" | "replicate" | "fal";

/** The prefix of fal models. */
export const FAL_PREFIX = "fal:";
/** `owner/app[/path…]`, as fal names endpoints. */
const ENDPOINT = /^[a-z0-9][a-z0-9._-]{0,99}(?:\/[a-z0-9][a-z0-9._-]{0,99}){1,4}$/i;

/** The provider of a model reference (`local/…`, `fal:…`, else Replicate). */
export function providerKindOf(model: string): ProviderKind {
  if (model.startsWith("local/")) return "local";
  return isFalModel(model) ? "fal" : "replicate";
}

/** True for `fal:<endpoint>` model references. */
export function isFalModel(model: string): boolean {
  return model.startsWith(FAL_PREFIX);
}

/** The endpoint id of a `fal:` model, or null when it is not a valid one. */
export function falEndpoint(model: string): string | null {
  if (!isFalModel(model)) return null;
  const endpoint = model.slice(FAL_PREFIX.length);
  return ENDPOINT.test(endpoint) && !endpoint.split("/").includes("..") ? endpoint : null;
}
