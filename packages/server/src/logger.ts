/**
 * The logging the server and client need: pino's method shape (`logger.warn(obj, msg)`), so a pino
 * logger can be passed as is.
 */
export interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const plain = (_key: string, value: unknown): unknown => {
  if (value instanceof Error) return value.stack ?? String(value.message);
  if (typeof value === 'bigint') return value.toString();
  return value;
};

/** JSON of a log object that never throws: errors as their stack, bigints as strings, cycles cut. */
function toJson(obj: object): string {
  try {
    return JSON.stringify(obj, plain);
  } catch {
    // A cycle (or a getter or toJSON that throws): again, with objects seen before written as '[Circular]'.
  }
  const seen = new WeakSet<object>();
  try {
    return JSON.stringify(obj, (key, value: unknown) => {
      const out = plain(key, value);
      if (typeof out === 'object' && out !== null) {
        if (seen.has(out)) return '[Circular]';
        seen.add(out);
      }
      return out;
    });
  } catch (err) {
    return `"(not serialisable: ${err instanceof Error ? err.message : 'unknown'})"`;
  }
}

const write = (level: string) => (obj: object, msg: string) => {
  const extra = obj instanceof Error ? { err: obj.stack } : obj;
  console.error(`[mini-rpc] ${level} ${msg} ${toJson(extra)}`);
};

/** Default logger: warnings and errors to stderr, info dropped. */
export const consoleLogger: Logger = { info: () => {}, warn: write('warn'), error: write('error') };

/**
 * `logger` with each call guarded. The server logs from socket events, timers and promise handlers, where a
 * logger that throws (a closed stream, a bug in a custom one) would skip the bookkeeping after the line (a
 * closed connection's calls never released, a graceful close that never ends) or end the process. A line
 * that cannot be written is dropped instead.
 */
export function guardedLogger(logger: Logger): Logger {
  const guard =
    (level: keyof Logger) =>
    (obj: object, msg: string): void => {
      try {
        logger[level](obj, msg);
      } catch {
        // Dropped: see above.
      }
    };
  return { info: guard('info'), warn: guard('warn'), error: guard('error') };
}

/** A logger that drops everything (tests, benchmarks). */
export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };
