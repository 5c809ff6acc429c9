/**
 * The logging the server and client need: pino's method shape (`logger.warn(obj, msg)`), so a pino
 * logger can be passed as is.
 */
export interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const write = (level: string) => (obj: object, msg: string) => {
  const extra = obj instanceof Error ? { err: obj.stack } : obj;
  console.error(
    `[mini-rpc] ${level} ${msg} ${JSON.stringify(extra, (_k, v) => (v instanceof Error ? v.stack : v))}`,
  );
};

/** Default logger: warnings and errors to stderr, info dropped. */
export const consoleLogger: Logger = { info: () => {}, warn: write('warn'), error: write('error') };

/** A logger that drops everything (tests, benchmarks). */
export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };
