/**
 * SSRF-safe fetching, for every URL Darkroom did not choose itself (provider output downloads,
 * outgoing webhooks).
 *
 * Rules, checked again at every redirect hop:
 * - only `https:`; `http:` only to a host in `allowHosts`; never credentials in the URL;
 * - every address the host resolves to must be public (see `isPrivateAddress`), unless the host is
 *   in `allowHosts` or `allowPrivate` is set; IP literals in any spelling are checked as written,
 *   after the URL parser has normalised them (`2130706433`, `0x7f000001`, `017700000001`,
 *   `127.1` all become `127.0.0.1`; `[::ffff:127.0.0.1]` becomes `[::ffff:7f00:1]`);
 *   `localhost` and `*.localhost` are loopback without asking DNS (RFC 6761);
 * - redirects are followed by hand, at most `maxRedirects`, and only within the same origin;
 * - one deadline (`timeoutMs`) covers the whole exchange, redirects and body included.
 *
 * Known limitation, DNS rebinding: the addresses are checked with our own lookup, then `fetch`
 * looks the name up again on its own (through the system resolver, which also reads /etc/hosts;
 * `Deno.resolveDns` does not). A name with a short TTL can answer a public address to us and a
 * private one to `fetch`. Deno's `fetch` cannot be told which IP to connect to for an `https:`
 * URL: `Deno.createHttpClient({ proxy: { transport: "tcp", hostname: ip, port } })` does pin the
 * address, but it then speaks plain HTTP even for `https:` URLs (measured on Deno 2.9: "invalid
 * HTTP version parsed" against a TLS server), so it cannot be used; closing the gap would need a
 * local CONNECT proxy that dials the checked IP. What limits the damage today: each hop is
 * resolved and checked again, plain `http:` only ever goes to `allowHosts` (where the question does
 * not arise), and the caller never sees a redirect to another host. Callers should still treat the
 * body as untrusted and cap its size.
 */

/** Why a fetch was refused or failed. */
export type SafeFetchReason =
  | "scheme"
  | "credentials"
  | "private_address"
  | "dns"
  | "redirect"
  | "too_many_redirects"
  | "timeout";

/** A fetch refused by the SSRF rules, or that could not resolve or finish in time. */
export class SafeFetchError extends Error {
  constructor(readonly reason: SafeFetchReason, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SafeFetchError";
  }
}

/** Settings of `createSafeFetch`. */
export interface SafeFetchOptions {
  /**
   * `host` or `host:port` entries (e.g. the host of REPLICATE_BASE_URL, so a local fake provider
   * works) that may be fetched over `http:` too, whatever their addresses. Without a port, any
   * port of that host matches.
   */
  allowHosts?: string[];
  /** Allow private, loopback and reserved addresses everywhere (still `https:` only). */
  allowPrivate?: boolean;
  /** Deadline for the whole exchange, redirects and reading the body included (ms). */
  timeoutMs: number;
  /** Redirects to follow at most (default 3); one more is refused. */
  maxRedirects?: number;
  /** Name to addresses; default `Deno.resolveDns` A + AAAA. Must return every address. */
  resolve?: (hostname: string, options?: { signal?: AbortSignal }) => Promise<string[]>;
  fetch?: typeof fetch;
}

/** A `fetch` that follows the SSRF rules; `init.redirect` is ignored (redirects are its job). */
export type SafeFetch = (url: string | URL, init?: RequestInit) => Promise<Response>;

interface AllowedHost {
  hostname: string;
  /** Explicit port, or undefined for any port. */
  port?: string;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const BODY_HEADERS = [
  "content-type",
  "content-length",
  "content-encoding",
  "content-language",
  "content-location",
];
const SHOWN_PATH_MAX = 200;

/** Creates a fetch that refuses private addresses, non-https URLs and cross-host redirects. */
export function createSafeFetch(options: SafeFetchOptions): SafeFetch {
  const allowHosts = (options.allowHosts ?? []).map(parseAllowedHost);
  const maxRedirects = options.maxRedirects ?? 3;
  const resolve = options.resolve ?? resolveDns;
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));

  /** Every check of one hop; throws a SafeFetchError, or the signal's reason when it aborts. */
  async function checkUrl(url: URL, signal: AbortSignal): Promise<void> {
    const shown = showUrl(url);
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      throw new SafeFetchError("scheme", `Refusing to fetch ${shown}: only https URLs are allowed`);
    }
    if (url.username || url.password) {
      throw new SafeFetchError(
        "credentials",
        `Refusing to fetch ${shown}: the URL must not carry credentials`,
      );
    }
    if (matchesAllowedHost(url, allowHosts)) return;
    const host = bareHostname(url);
    const literal = isIpLiteral(url) || isLocalhostName(host);
    // IP literals first, so `http://169.254.169.254/` is reported for what it is.
    if (!options.allowPrivate && privateLiteral(url) !== null) {
      throw new SafeFetchError(
        "private_address",
        `Refusing to fetch ${shown}: ${host} is a private address`,
      );
    }
    if (url.protocol !== "https:") {
      throw new SafeFetchError(
        "scheme",
        `Refusing to fetch ${shown}: only https is allowed for hosts not in allowHosts`,
      );
    }
    if (literal || options.allowPrivate) return;
    let addresses: string[];
    try {
      addresses = await raceSignal(resolve(host, { signal }), signal);
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw new SafeFetchError(
        "dns",
        `Cannot fetch ${shown}: cannot resolve ${host} (${describe(error)})`,
        { cause: error },
      );
    }
    if (addresses.length === 0) {
      throw new SafeFetchError("dns", `Cannot fetch ${shown}: ${host} has no address`);
    }
    const bad = addresses.find((a) => isPrivateAddress(a));
    if (bad !== undefined) {
      throw new SafeFetchError(
        "private_address",
        `Refusing to fetch ${shown}: ${host} resolves to ${bad}, a private address`,
      );
    }
  }

  return async function safeFetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
    const timeout = AbortSignal.timeout(options.timeoutMs);
    const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    let url = parseUrl(input);
    const first = showUrl(url);
    let method = (init.method ?? "GET").toUpperCase();
    let body = init.body;
    const headers = new Headers(init.headers);
    try {
      for (let redirects = 0;; redirects++) {
        await checkUrl(url, signal);
        const response = await doFetch(url, {
          ...init,
          method,
          headers,
          body,
          redirect: "manual",
          signal,
        });
        const location = REDIRECT_STATUSES.has(response.status)
          ? response.headers.get("location")
          : null;
        if (location === null) return response;
        await response.body?.cancel();
        const shown = showUrl(url);
        if (redirects >= maxRedirects) {
          throw new SafeFetchError(
            "too_many_redirects",
            `Refusing to fetch ${first}: more than ${maxRedirects} redirects`,
          );
        }
        const next = URL.parse(location, url);
        if (next === null) {
          throw new SafeFetchError(
            "redirect",
            `Refusing to fetch ${shown}: it redirects to an invalid URL`,
          );
        }
        if (next.origin !== url.origin) {
          throw new SafeFetchError(
            "redirect",
            `Refusing to fetch ${shown}: it redirects to another host (${showUrl(next)})`,
          );
        }
        if (
          (response.status === 303 && method !== "GET" && method !== "HEAD") ||
          ((response.status === 301 || response.status === 302) && method === "POST")
        ) {
          method = "GET";
          body = undefined;
          for (const name of BODY_HEADERS) headers.delete(name);
        } else if (body instanceof ReadableStream) {
          throw new SafeFetchError(
            "redirect",
            `Refusing to fetch ${shown}: cannot send a streamed body again after a redirect`,
          );
        }
        url = next;
      }
    } catch (error) {
      if (error instanceof SafeFetchError) throw error;
      if (timeout.aborted && signal.reason === timeout.reason) {
        throw new SafeFetchError(
          "timeout",
          `Cannot fetch ${first}: no answer within ${options.timeoutMs} ms`,
          { cause: error },
        );
      }
      throw error;
    }
  };
}

/**
 * True for any address that is not public unicast: private, loopback, link-local, unique-local,
 * multicast, unspecified, CGNAT, documentation, benchmarking and reserved ranges, and IPv4 embedded
 * in IPv6 (`::ffff:0:0/96`, `64:ff9b::/96`, `2002::/16`) when the IPv4 is. IPv4 may be written in
 * any form the URL parser takes (`2130706433`, `0x7f.1`); a string that is not an IP address at all
 * also answers true (fail closed).
 */
export function isPrivateAddress(ip: string): boolean {
  const v4 = parseIPv4(ip);
  if (v4 !== undefined) return isPrivateIPv4(v4);
  const v6 = parseIPv6(ip);
  if (v6 !== undefined) return isPrivateIPv6(v6);
  return true;
}

/** IPv4 ranges that are not public unicast: [network, prefix length]. */
const PRIVATE_IPV4: ReadonlyArray<readonly [string, number]> = [
  ["0.0.0.0", 8], // "this network", 0.0.0.0
  ["10.0.0.0", 8],
  ["100.64.0.0", 10], // CGNAT
  ["127.0.0.0", 8],
  ["169.254.0.0", 16], // link-local, cloud metadata (169.254.169.254)
  ["172.16.0.0", 12],
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.0.2.0", 24], // TEST-NET-1
  ["192.88.99.0", 24], // 6to4 relay anycast (deprecated)
  ["192.168.0.0", 16],
  ["198.18.0.0", 15], // benchmarking
  ["198.51.100.0", 24], // TEST-NET-2
  ["203.0.113.0", 24], // TEST-NET-3
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, 255.255.255.255
];
const PRIVATE_IPV4_RANGES = PRIVATE_IPV4.map(([net, bits]) => {
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return { net: (ipv4Number(net.split(".").map(Number)) & mask) >>> 0, mask };
});

function ipv4Number(octets: number[]): number {
  return ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
}

function isPrivateIPv4(octets: number[]): boolean {
  const n = ipv4Number(octets);
  return PRIVATE_IPV4_RANGES.some(({ net, mask }) => ((n & mask) >>> 0) === net);
}

function isPrivateIPv6(g: number[]): boolean {
  const embedded = (hi: number, lo: number) =>
    isPrivateIPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  // ::ffff:a.b.c.d (IPv4-mapped) and 64:ff9b::a.b.c.d (NAT64) reach the embedded IPv4.
  if (zeros(0, 5) && g[5] === 0xffff) return embedded(g[6], g[7]);
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return embedded(g[6], g[7]);
  // Only 2000::/3 is global unicast: this refuses ::, ::1, ::/96, fc00::/7, fe80::/10, fec0::/10,
  // ff00::/8, 100::/64 and 64:ff9b:1::/48.
  if ((g[0] & 0xe000) !== 0x2000) return true;
  if (g[0] === 0x2002) return embedded(g[1], g[2]); // 6to4
  if (g[0] === 0x2001 && g[1] === 0x0db8) return true; // documentation
  if (g[0] === 0x2001 && g[1] < 0x0200) return true; // 2001::/23 IETF (Teredo, benchmarking…)
  if (g[0] === 0x3fff && g[1] < 0x1000) return true; // 3fff::/20 documentation
  return false;
}

/** Dotted-quad octets of an IPv4 address in any WHATWG URL spelling, or undefined. */
function parseIPv4(text: string): number[] | undefined {
  // Only digits, hex and dots reach the URL parser, so nothing can smuggle in another host.
  if (!/^[0-9a-fx.]+$/i.test(text)) return undefined;
  const host = URL.parse(`http://${text}/`)?.hostname ?? "";
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(host);
  return m ? m.slice(1).map(Number) : undefined;
}

/** The eight 16-bit groups of an IPv6 address (brackets and zone id allowed), or undefined. */
function parseIPv6(text: string): number[] | undefined {
  let t = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  const zone = t.indexOf("%");
  if (zone >= 0) t = t.slice(0, zone);
  if (!t.includes(":") || !/^[0-9a-f:.]+$/i.test(t)) return undefined;
  // The URL parser validates and serialises it in compressed hex (no dotted tail).
  const host = URL.parse(`http://[${t}]/`)?.hostname.slice(1, -1);
  if (host === undefined) return undefined;
  const [head, tail] = host.split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = tail === undefined
    ? left
    : [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
  return groups.map((x) => parseInt(x, 16));
}

/**
 * True when `url`'s host is one of `allowHosts` (`host` or `host:port`; without a port, any port
 * of that host). Entries that are not host[:port] match nothing.
 */
export function isAllowedHost(url: URL, allowHosts: readonly string[]): boolean {
  const parsed: AllowedHost[] = [];
  for (const entry of allowHosts) {
    try {
      parsed.push(parseAllowedHost(entry));
    } catch { /* matches nothing */ }
  }
  return matchesAllowedHost(url, parsed);
}

function matchesAllowedHost(url: URL, allowHosts: readonly AllowedHost[]): boolean {
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  return allowHosts.some((h) =>
    h.hostname === url.hostname && (h.port === undefined || h.port === port)
  );
}

/**
 * The host of `url` when the URL itself names a non-public address, without asking DNS: an IP
 * literal in any spelling the URL parser normalises (`2130706433`, `0x7f.1`, `[::ffff:7f00:1]`)
 * for which `isPrivateAddress` holds, or `localhost` / `*.localhost`; null otherwise.
 */
export function privateLiteral(url: URL): string | null {
  const host = bareHostname(url);
  if (!isIpLiteral(url) && !isLocalhostName(host)) return null;
  return isPrivateAddress(literalAddress(host)) ? host : null;
}

function parseAllowedHost(entry: string): AllowedHost {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^\s:/?#@[\]]+)(?::(\d{1,5}))?$/.exec(entry.trim());
  const hostname = m ? URL.parse(`http://${m[1]}/`)?.hostname : undefined;
  if (!m || !hostname) {
    throw new TypeError(`Invalid allowHosts entry ${JSON.stringify(entry)}: use host or host:port`);
  }
  return { hostname, port: m[2] === undefined ? undefined : String(Number(m[2])) };
}

function parseUrl(input: string | URL): URL {
  const url = URL.parse(input);
  if (url === null) {
    throw new SafeFetchError("scheme", "Refusing to fetch: not a valid URL");
  }
  return url;
}

/** Hostname without IPv6 brackets. */
function bareHostname(url: URL): string {
  const h = url.hostname;
  return h.startsWith("[") ? h.slice(1, -1) : h;
}

/** After WHATWG parsing, an http(s) IPv4 host is always a dotted quad and IPv6 is bracketed. */
function isIpLiteral(url: URL): boolean {
  return url.hostname.startsWith("[") || /^\d+\.\d+\.\d+\.\d+$/.test(url.hostname);
}

function isLocalhostName(host: string): boolean {
  const h = host.replace(/\.$/, "");
  return h === "localhost" || h.endsWith(".localhost");
}

function literalAddress(host: string): string {
  return isLocalhostName(host) ? "127.0.0.1" : host;
}

/** The URL for messages: no credentials, query or fragment (signed URLs keep secrets there). */
function showUrl(url: URL): string {
  if (url.protocol !== "http:" && url.protocol !== "https:") return `a ${url.protocol} URL`;
  const path = url.pathname.length > SHOWN_PATH_MAX
    ? `${url.pathname.slice(0, SHOWN_PATH_MAX)}…`
    : url.pathname;
  return `${url.protocol}//${url.host}${path}`;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Settles with `promise`, or rejects with the signal's reason as soon as it aborts. */
function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** Default resolver: every A and AAAA record; fails only when neither lookup succeeds. */
async function resolveDns(hostname: string, options?: { signal?: AbortSignal }): Promise<string[]> {
  const lookups = await Promise.allSettled([
    Deno.resolveDns(hostname, "A", { signal: options?.signal }),
    Deno.resolveDns(hostname, "AAAA", { signal: options?.signal }),
  ]);
  if (lookups[0].status === "rejected" && lookups[1].status === "rejected") {
    throw lookups[0].reason;
  }
  return lookups.flatMap((r) => r.status === "fulfilled" ? r.value : []);
}
