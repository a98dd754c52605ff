/** Reads a JSON request body with a size cap, strict UTF-8 and a content-type check. */
import type { Context } from "hono";
import { AppError } from "../shared/errors.ts";

/** Parses the body as JSON or throws 415/413/400 AppErrors with clear messages. */
export async function readJsonBody(c: Context, maxBytes: number): Promise<unknown> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i.test(type.trim())) {
    throw new AppError(415, "unsupported_media_type", "Content-Type must be application/json");
  }
  const declared = Number(c.req.header("content-length") ?? "0");
  if (declared > maxBytes) throw tooLarge(maxBytes);
  const body = c.req.raw.body;
  if (!body) throw new AppError(400, "bad_request", "Request body is empty");
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => {});
        throw tooLarge(maxBytes);
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new AppError(400, "bad_request", "Could not read the request body");
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new AppError(400, "bad_request", "Request body is not valid UTF-8");
  }
  if (text.trim() === "") throw new AppError(400, "bad_request", "Request body is empty");
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new AppError(
      400,
      "bad_request",
      `Malformed JSON in request body: ${(err as Error).message}`,
    );
  }
}

function tooLarge(maxBytes: number): AppError {
  return new AppError(413, "payload_too_large", `Request body must be at most ${maxBytes} bytes`);
}
