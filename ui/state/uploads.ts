/**
 * Images given to image inputs: each file is uploaded (`POST /uploads`) and the input takes the
 * upload's url; previews come from the file itself (an object URL), or, for an upload named by a
 * restored draft, from `GET /uploads/<id>` with the key.
 */
import { computed, signal } from "@preact/signals";
import { type ApiClient, ApiError, uploadIdOf, type UploadJson } from "../api_client.ts";

/** An upload on its way: the file's own preview, shown while it is sent. */
export interface PendingUpload {
  key: number;
  name: string;
  preview: string;
}

/** Uploads in flight, by input name. */
export const pendingUploads = signal<Record<string, PendingUpload[]>>({});
/** True while any image is still being uploaded (a submit waits for it). */
export const uploadsBusy = computed(() =>
  Object.values(pendingUploads.value).some((l) => l.length > 0)
);

/** Preview URLs (object URLs or data: URIs) and details of the uploads seen in this page. */
const previews = new Map<string, string>();
const details = new Map<string, UploadJson>();

/** The image types the API takes (it checks the bytes too). */
export const IMAGE_TYPES = ["image/png", "image/jpeg", "image/webp", "image/gif"];

/** Why a file cannot be an image input, or null (the server checks the bytes themselves). */
export function checkImageFile(file: { name: string; type: string; size: number }): string | null {
  if (file.size === 0) return `${file.name || "The file"} is empty`;
  if (file.type && !IMAGE_TYPES.includes(file.type)) {
    return `${file.name || "The file"} is not a PNG, JPEG, WebP or GIF image`;
  }
  return null;
}

/** What to say when an upload was refused. */
export function uploadProblem(err: unknown): string {
  const e = err instanceof ApiError ? err : null;
  if (e?.status === 413) return `The image is too large: ${e.message}`;
  if (e?.status === 415) return "Not an image this service takes (PNG, JPEG, WebP or GIF)";
  return `Cannot upload the image: ${e?.message ?? String(err)}`;
}

/** The preview of an image input's value when known now: an upload seen here, or a data: URI. */
export function knownPreview(ref: string): string | null {
  if (ref.startsWith("data:image/")) return ref;
  return previews.get(ref) ?? previews.get(`/uploads/${uploadIdOf(ref)}`) ?? null;
}

/** Details (size, type) of an upload made in this page. */
export function uploadDetails(ref: string): UploadJson | undefined {
  return details.get(ref);
}

/**
 * The preview of an upload named by a value (fetched with the key, then kept), or null for a
 * value that is no upload (an https URL, which the page's policy does not load).
 */
export async function loadPreview(
  ref: string,
  api: Pick<ApiClient, "uploadImage">,
): Promise<string | null> {
  const known = knownPreview(ref);
  if (known || !uploadIdOf(ref)) return known;
  const url = URL.createObjectURL(await api.uploadImage(ref));
  previews.set(ref, url);
  return url;
}

/** What `addImage` needs: the API, and where the result goes. */
export interface AddImageDeps {
  api: Pick<ApiClient, "upload">;
  /** Called with the upload's url once stored. */
  onUploaded(url: string): void;
  onError(message: string): void;
  createObjectURL?: (file: Blob) => string;
  revokeObjectURL?: (url: string) => void;
}

let nextKey = 0;

/** Uploads `file` for the input `name`, showing its preview meanwhile. */
export async function addImage(name: string, file: File, deps: AddImageDeps): Promise<void> {
  const problem = checkImageFile(file);
  if (problem) {
    deps.onError(problem);
    return;
  }
  const create = deps.createObjectURL ?? ((f: Blob) => URL.createObjectURL(f));
  const revoke = deps.revokeObjectURL ?? ((u: string) => URL.revokeObjectURL(u));
  const pending: PendingUpload = { key: ++nextKey, name: file.name, preview: create(file) };
  const list = (v: Record<string, PendingUpload[]>) => v[name] ?? [];
  pendingUploads.value = {
    ...pendingUploads.value,
    [name]: [...list(pendingUploads.value), pending],
  };
  try {
    const up = await deps.api.upload(file);
    previews.set(up.url, pending.preview);
    details.set(up.url, up);
    deps.onUploaded(up.url);
  } catch (err) {
    revoke(pending.preview);
    deps.onError(uploadProblem(err));
  } finally {
    pendingUploads.value = {
      ...pendingUploads.value,
      [name]: list(pendingUploads.value).filter((p) => p !== pending),
    };
  }
}
