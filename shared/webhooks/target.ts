/**
 * Where an outgoing webhook may go, checked when a job is submitted: what can be told from the URL
 * alone. The worker checks again at delivery, after DNS (shared/http/safe_fetch.ts, the one home
 * of the address rules used here).
 */
import { isAllowedHost, privateLiteral } from "../http/safe_fetch.ts";

/**
 * Why `webhookUrl` cannot be accepted (a phrase completing "webhook_url …"), or null. Refused:
 * credentials in the URL; then, unless the host is in `allowHosts`, anything but https and any
 * host written as a non-public address (private, loopback, link-local, unique-local, unspecified,
 * multicast, reserved, IPv4-mapped; in any spelling the URL parser normalises) or `localhost`.
 */
export function webhookUrlProblem(
  webhookUrl: string,
  allowHosts: readonly string[],
): string | null {
  const url = URL.parse(webhookUrl);
  if (url === null || (url.protocol !== "https:" && url.protocol !== "http:")) {
    return "must be an http(s) URL";
  }
  if (url.username || url.password) return "must not carry credentials";
  if (isAllowedHost(url, allowHosts)) return null;
  if (url.protocol !== "https:") return "must be an https URL";
  const host = privateLiteral(url);
  if (host !== null) {
    return `must not point at a private, loopback or reserved address (${host})`;
  }
  return null;
}
