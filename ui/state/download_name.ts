/**
 * Download names from prompts (only the lightbox and the gallery need them, so they are not on
 * the first page).
 */

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
