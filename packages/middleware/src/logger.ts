/** The pino log levels the middleware can write at. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/** One pino-style log method: a structured object first, then a message. */
export type LogFn = (obj: Record<string, unknown>, msg: string) => void;

/**
 * The part of a logger that {@link recovery} needs. A pino `Logger` satisfies it, and so does
 * `{ error: (obj, msg) => console.error(msg, obj) }`.
 */
export interface ErrorLogger {
  error: LogFn;
}

/**
 * The part of a logger that {@link logging} needs: a method per level it is configured to use, and optionally
 * `isLevelEnabled` (pino has it) so that disabled levels cost no work. A pino `Logger` satisfies it.
 */
export type LevelLogger = { [K in LogLevel]?: LogFn } & {
  isLevelEnabled?: (level: string) => boolean;
};
