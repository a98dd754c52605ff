/** JSON-lines logger with levels, child fields and redaction of secrets. */

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_KEY =
  /token|secret|password|authorization|api[_-]?key|access[_-]?key|credential|signature|cookie/i;
// Replicate and webhook secrets, bearer tokens, AWS key ids and presigned-URL parameters.
const SECRET_VALUE =
  /\b(r8_[A-Za-z0-9]{8,}|whsec_[A-Za-z0-9+/=]{8,}|Bearer\s+\S+|A[KS]IA[0-9A-Z]{16}|X-Amz-(?:Signature|Credential|Security-Token)=[^&\s"']+)/g;

export interface LoggerOptions {
  level?: LogLevel;
  fields?: LogFields;
  /** Where lines go; defaults to stdout (errors too, so one stream holds the whole story). */
  write?: (line: string) => void;
  now?: () => Date;
}

/** Creates a logger that writes one JSON object per line. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const min = ORDER[options.level ?? "info"];
  const write = options.write ?? ((line: string) => console.log(line));
  const now = options.now ?? (() => new Date());
  const base = options.fields ?? {};
  const log = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (ORDER[level] < min) return;
    const record = { level, time: now().toISOString(), msg, ...base, ...fields };
    write(JSON.stringify(redact(record)));
  };
  return {
    debug: (msg, fields) => log("debug", msg, fields),
    info: (msg, fields) => log("info", msg, fields),
    warn: (msg, fields) => log("warn", msg, fields),
    error: (msg, fields) => log("error", msg, fields),
    child: (fields) => createLogger({ ...options, fields: { ...base, ...fields } }),
  };
}

/** A logger that drops everything (for tests that do not read logs). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
};

/** Replaces secret-looking keys and values with "[redacted]"; errors become plain objects. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8) return "[deep]";
  if (typeof value === "string") return value.replace(SECRET_VALUE, "[redacted]");
  if (value instanceof Error) {
    return { name: value.name, message: redact(value.message, depth + 1) };
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = SECRET_KEY.test(k) && v != null && v !== "" ? "[redacted]" : redact(v, depth + 1);
    }
    return out;
  }
  return value;
}
