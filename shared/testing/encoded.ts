/** Test helper: the body of a response decoded by its Content-Encoding (br, gzip or none). */
import { brotliDecompressSync, gunzipSync } from "node:zlib";

/** The decoded bytes of a response, and the coding it came in. */
export async function decodeBody(
  res: Response,
): Promise<{ bytes: Uint8Array; encoding: string | null; sent: number }> {
  const sent = new Uint8Array(await res.arrayBuffer());
  const encoding = res.headers.get("content-encoding");
  const bytes = encoding === "br"
    ? new Uint8Array(brotliDecompressSync(sent))
    : encoding === "gzip"
    ? new Uint8Array(gunzipSync(sent))
    : sent;
  return { bytes, encoding, sent: sent.byteLength };
}

/** The decoded body as text. */
export async function decodeText(res: Response): Promise<string> {
  return new TextDecoder().decode((await decodeBody(res)).bytes);
}
