/**
 * The logging the server and client need: pino's method shape (`logger.warn(obj, msg)`), so a pino
 * logger can be passed as is.
 */
export interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** JSON of a log object that never throws: errors as their stack, bigints as strings, cycles cut. */
function toJson(obj: object): string {
  const seen = new WeakSet<object>();
  try {
    return JSON.stringify(obj, (_key, value: unknown) => {
      if (value instanceof Error) return value.stack ?? String(value.message);
      if (typeof value === 'bigint') return value.toString();
      if (typeof value === 'object' && value !== null) {
        if (seen.has(value)) return '[Circular]';
        seen.add(value);
      }
      return value;
    });
  } catch (err) {
    // A getter or toJSON that throws: say so rather than lose the line.
    return `"(not serialisable: ${err instanceof Error ? err.message : 'unknown'})"`;
  }
}

const write = (level: string) => (obj: object, msg: string) => {
  const extra = obj instanceof Error ? { err: obj.stack } : obj;
  console.error(`[mini-rpc] ${level} ${msg} ${toJson(extra)}`);
};

/** Default logger: warnings and errors to stderr, info dropped. */
export const consoleLogger: Logger = { info: () => {}, warn: write('warn'), error: write('error') };

/** A logger that drops everything (tests, benchmarks). */
export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };
