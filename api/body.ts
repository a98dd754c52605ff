/** Reads request bodies with a size cap: raw bytes, or JSON with strict UTF-8 and a content-type check. */
import type { Context } from "hono";
import { AppError, BadRequestError, PayloadTooLargeError } from "../shared/errors.ts";

/** Strict UTF-8 (a lone surrogate or overlong form is refused, not replaced); stateless. */
const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** Parses the body as JSON or throws 415/413/400 AppErrors with clear messages. */
export async function readJsonBody(c: Context, maxBytes: number): Promise<unknown> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i.test(type.trim())) {
    throw new AppError(415, "unsupported_media_type", "Content-Type must be application/json");
  }
  const bytes = await readBody(c, maxBytes);
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw new BadRequestError("Request body is not valid UTF-8");
  }
  if (text.trim() === "") throw new BadRequestError("Request body is empty");
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BadRequestError(`Malformed JSON in request body: ${(err as Error).message}`);
  }
}

/** The whole body as bytes, or a 413/400 AppError when it is too large or cannot be read. */
export async function readBody(c: Context, maxBytes: number): Promise<Uint8Array> {
  const bytes = await readRawBody(c.req.raw, maxBytes);
  if (bytes === "too_large") throw new PayloadTooLargeError(maxBytes);
  if (bytes === "unreadable") throw new BadRequestError("Could not read the request body");
  return bytes;
}

/** Reads the whole body as bytes, stopping as soon as it grows past `maxBytes`. */
async function readRawBody(
  req: Request,
  maxBytes: number,
): Promise<Uint8Array | "too_large" | "unreadable"> {
  const length = req.headers.get("content-length");
  const declared = Number(length ?? "0");
  if (declared > maxBytes) return "too_large";
  if (length !== null && /^\d+$/.test(length)) {
    // A declared length within the cap: the server reads exactly that many bytes (a body that
    // ends early fails the read), so the whole body can be taken at once.
    let bytes: Uint8Array;
    try {
      bytes = await req.bytes();
    } catch {
      return "unreadable";
    }
    // A Request built in process (not by the server) may not match its header: check anyway.
    return bytes.byteLength > maxBytes ? "too_large" : bytes;
  }
  if (!req.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = req.body.getReader();
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => {});
        return "too_large";
      }
      chunks.push(value);
    }
  } catch {
    return "unreadable";
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
