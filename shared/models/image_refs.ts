/**
 * The values an image input takes: an upload (`upload:<id>`, or its url `/uploads/<id>`, relative
 * or absolute), an `https://` URL, or a `data:image/...;base64,` URI. One parser for the submit
 * check, the job JSON and the worker.
 */
import { detectImageType } from "../media/image_info.ts";
import { isImageFieldName, isObject } from "./schema.ts";

/** A parsed image input. */
export type ImageRef =
  | { kind: "upload"; uploadId: string }
  | { kind: "url"; url: string }
  | { kind: "data"; contentType: string };

const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
const UPLOAD_REF = new RegExp(`^upload:(${UUID})$`, "i");
const UPLOAD_URL = new RegExp(`^(?:https?://[^/?#\\s]+)?/uploads/(${UUID})$`, "i");
const DATA_URI = /^data:(image\/(?:png|jpeg|webp|gif));base64,([A-Za-z0-9+/]+={0,2})$/;

/** The URL path of an upload (what POST /uploads answers as `url`). */
export function uploadPath(id: string): string {
  return `/uploads/${id}`;
}

/** Parses an image input; null when the value is none of the accepted forms. */
export function parseImageRef(value: string): ImageRef | null {
  if (value.length > 20_000_000) return null;
  let m = UPLOAD_REF.exec(value) ?? UPLOAD_URL.exec(value);
  if (m) return { kind: "upload", uploadId: m[1].toLowerCase() };
  if (value.startsWith("data:")) {
    m = DATA_URI.exec(value);
    if (!m) return null;
    const head = decodeBase64(m[2].slice(0, 32));
    return head && detectImageType(head) ? { kind: "data", contentType: m[1] } : null;
  }
  if (!value.startsWith("https://") || !URL.canParse(value)) return null;
  const url = new URL(value);
  if (url.username || url.password || !url.hostname) return null;
  return { kind: "url", url: url.href };
}

/** True when `value` is an accepted image input (the Ajv format of image fields). */
export function isImageReference(value: string): boolean {
  return parseImageRef(value) !== null;
}

/** One image input of a job, as its JSON lists it. */
export interface InputImage {
  /** The parameter, with an index for a list (`image_input.1`). */
  field: string;
  /** The upload's id, or null for an https URL or a data: URI. */
  upload_id: string | null;
  /** Where the image can be seen: `/uploads/<id>` (with the caller's key), or the https URL. */
  url: string | null;
}

/**
 * The image inputs in a job's parameters: fields named like an image whose value (or list of
 * values) is an accepted image input. No I/O, no schema: cheap enough for every job JSON.
 */
export function inputImages(parameters: Record<string, unknown>): InputImage[] {
  let out: InputImage[] | undefined;
  for (const name in parameters) {
    if (!isImageFieldName(name)) continue;
    const value = parameters[name];
    const values = Array.isArray(value) ? value : [value];
    values.forEach((v, i) => {
      if (typeof v !== "string") return;
      const ref = parseImageRef(v);
      if (!ref) return;
      const field = Array.isArray(value) ? `${name}.${i}` : name;
      (out ??= []).push({
        field,
        upload_id: ref.kind === "upload" ? ref.uploadId : null,
        url: ref.kind === "upload" ? uploadPath(ref.uploadId) : ref.kind === "url" ? ref.url : null,
      });
    });
  }
  return out ?? [];
}

/** The upload ids referenced by image inputs of `parameters` (deduplicated). */
export function uploadIdsIn(parameters: Record<string, unknown>): string[] {
  const ids = new Set<string>();
  for (const image of inputImages(parameters)) if (image.upload_id) ids.add(image.upload_id);
  return [...ids];
}

/** True when some parameter named like an image holds a value that needs resolving. */
export function hasImageInputs(parameters: unknown): boolean {
  if (!isObject(parameters)) return false;
  for (const name in parameters) if (isImageFieldName(name)) return true;
  return false;
}

/** The bytes of a data: URI's base64 payload; null when it is not base64. */
export function decodeDataUri(value: string): { contentType: string; bytes: Uint8Array } | null {
  const m = DATA_URI.exec(value);
  if (!m) return null;
  const bytes = decodeBase64(m[2]);
  return bytes ? { contentType: m[1], bytes } : null;
}

/** `data:<type>;base64,<bytes>`. */
export function toDataUri(contentType: string, bytes: Uint8Array): string {
  return `data:${contentType};base64,${encodeBase64(bytes)}`;
}

function decodeBase64(text: string): Uint8Array | null {
  try {
    // A prefix of a longer payload may end mid-quantum: drop the partial group.
    const whole = text.length % 4 === 0 ? text : text.slice(0, text.length - (text.length % 4));
    const binary = atob(whole);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  } catch {
    return null;
  }
}

function encodeBase64(bytes: Uint8Array): string {
  let binary = "";
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    binary += String.fromCharCode(...bytes.subarray(i, i + chunk));
  }
  return btoa(binary);
}
