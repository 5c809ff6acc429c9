/**
 * Where the etcd registry reports what it does on its own (lease lost, re-registered, watch rebuilt).
 * pino loggers and `console` fit this shape. Without one, the registry logs nothing.
 */
export interface RegistryLogger {
  info(details: Record<string, unknown>, message: string): void;
  warn(details: Record<string, unknown>, message: string): void;
}

/** The logger used when none is given: drops everything. */
export const silentLogger: RegistryLogger = {
  info() {},
  warn() {},
};

/**
 * `logger` with each call guarded: the registry logs from keep-alive loops, watch events and timers, where an
 * exception from a logger (a closed stream, a bug in a custom one) would be an unhandled rejection or an
 * uncaught exception. A line that cannot be written is dropped; the registry goes on.
 */
export function guardedLogger(logger: RegistryLogger): RegistryLogger {
  return {
    info(details, message) {
      try {
        logger.info(details, message);
      } catch {
        // Dropped: see above.
      }
    },
    warn(details, message) {
      try {
        logger.warn(details, message);
      } catch {
        // Dropped: see above.
      }
    },
  };
}

/** Logs a value under a service's prefix that is not one of its instances; names the key, never the value. */
export function logIgnoredValue(logger: RegistryLogger, key: string): void {
  logger.warn({ key }, 'etcd registry: ignoring a value that is not a service instance');
}
