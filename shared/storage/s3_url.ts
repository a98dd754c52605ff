/** `s3://bucket/prefix` locations: parsing and validation, shared by the config and the tools. */

/** A bucket and the key prefix under which images are stored (no leading or trailing slash). */
export interface S3Location {
  bucket: string;
  /** "" for the bucket's root. */
  prefix: string;
}

/** S3 bucket naming rules (lower case, digits, dots, hyphens; 3–63 characters). */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const SEGMENT = /^[A-Za-z0-9._-]{1,200}$/;

/**
 * Parses `s3://bucket[/prefix/...]`; throws an Error saying what is wrong (the text never holds
 * a credential: one in the URL is refused without being repeated).
 */
export function parseS3Url(text: string): S3Location {
  const match = /^s3:\/\/([^/?#]*)(\/[^?#]*)?$/i.exec(text.trim());
  if (!match) throw new Error("must look like s3://bucket or s3://bucket/prefix");
  const [, host, path = ""] = match;
  if (host.includes("@")) {
    throw new Error(
      "must not hold credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead",
    );
  }
  if (!BUCKET.test(host) || host.includes("..")) {
    throw new Error(
      `bucket ${JSON.stringify(host)} is not a valid bucket name ` +
        "(3-63 lower-case letters, digits, dots and hyphens)",
    );
  }
  const segments = path.split("/").filter((s) => s !== "");
  for (const segment of segments) {
    if (!SEGMENT.test(segment) || segment === "." || segment === "..") {
      throw new Error(
        `prefix segment ${JSON.stringify(segment)} may hold only letters, digits, . _ and -`,
      );
    }
  }
  return { bucket: host, prefix: segments.join("/") };
}

/** `s3://bucket/prefix` (or `s3://bucket`) for logs and messages. */
export function formatS3Url(location: S3Location): string {
  return `s3://${location.bucket}${location.prefix ? `/${location.prefix}` : ""}`;
}
