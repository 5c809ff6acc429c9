import type { ServerContext, ServerMiddleware, ServerNext } from '@mini-rpc/protocol';
import { Code, codeName, isCallerError, thrownText } from '@mini-rpc/protocol';
import { codeOf } from './code-of.js';
import type { LevelLogger, LogFn, LogLevel } from './logger.js';
import { nextPromise } from './next-promise.js';

/** The level of each kind of outcome for {@link logging}. */
export interface LoggingLevels {
  /** Successful calls. Default `'info'`. */
  ok: LogLevel;
  /**
   * Calls that failed because of the caller: the codes of `isCallerError` (InvalidArgument, NotFound,
   * Unauthenticated, …) and ResourceExhausted (rate limited). Default `'warn'`.
   */
  clientError: LogLevel;
  /** Every other failure (Internal, Unavailable, DeadlineExceeded, …). Default `'error'`. */
  serverError: LogLevel;
}

/** Options for {@link logging}. */
export interface LoggingOptions {
  /** A pino logger or anything with the same level methods. */
  logger: LevelLogger;
  /** Fraction of successful calls that are logged, 0…1. Failures are always logged. Default 1. */
  sampleRate?: number;
  /** Level per outcome. Missing keys keep their defaults. */
  levels?: Partial<LoggingLevels>;
  /** Source of randomness for sampling, returning [0, 1). Default `Math.random`. */
  random?: () => number;
}

const DEFAULT_LEVELS: LoggingLevels = { ok: 'info', clientError: 'warn', serverError: 'error' };
const MESSAGE = 'rpc call';

/**
 * Server middleware that writes one structured line per call: `service`, `method`, `code` (name, e.g.
 * `'NotFound'`), `codeNumber`, `durationMs`, `peer`, `requestId`, plus `traceId` when {@link tracing} runs
 * outside it and `error` (the message, never the stack: {@link recovery} logs that) for failures.
 *
 * Successes are sampled with `sampleRate`; failures are always logged. When the logger reports a level as
 * disabled (pino's `isLevelEnabled`), nothing is measured or built for it; with every level disabled the
 * middleware just calls `next()`. A logger that throws is ignored: logging never changes a call's outcome.
 *
 * @throws RangeError when `sampleRate` is outside 0…1 or the logger lacks a configured level's method.
 * @example
 * ```ts
 * const server = createServer({ middleware: [recovery({ logger }), logging({ logger, sampleRate: 0.1 })] });
 * ```
 */
export function logging(options: LoggingOptions): ServerMiddleware {
  const { logger } = options;
  const sampleRate = options.sampleRate ?? 1;
  if (!(sampleRate >= 0 && sampleRate <= 1)) throw new RangeError('logging: sampleRate must be within 0…1');
  const levels: LoggingLevels = { ...DEFAULT_LEVELS, ...options.levels };
  for (const level of [levels.ok, levels.clientError, levels.serverError]) {
    if (typeof logger[level] !== 'function') throw new RangeError(`logging: logger has no ${level} method`);
  }
  const random = options.random ?? Math.random;
  const enabled = (level: LogLevel): boolean => logger.isLevelEnabled?.(level) ?? true;

  const write = (level: LogLevel, ctx: ServerContext, code: Code, started: number, err: unknown): void => {
    const line: Record<string, unknown> = {
      service: ctx.service,
      method: ctx.method,
      code: codeName(code),
      codeNumber: code,
      // Microsecond precision is plenty and keeps log lines short.
      durationMs: Math.round((performance.now() - started) * 1000) / 1000,
      peer: ctx.peer,
      requestId: ctx.requestId,
    };
    const trace = ctx.state.trace as { traceId?: unknown } | undefined;
    if (trace?.traceId !== undefined) line.traceId = trace.traceId;
    if (err !== undefined) line.error = thrownText(err);
    try {
      (logger[level] as LogFn)(line, MESSAGE);
    } catch {
      // A log line is never worth a call: a logger that throws (full disk, broken transport) is ignored.
    }
  };

  /** Logs a failed call at its level; returns `err` to be rethrown. */
  const failed = (ctx: ServerContext, started: number, err: unknown): unknown => {
    const code = codeOf(err, ctx);
    const level =
      isCallerError(code) || code === Code.ResourceExhausted ? levels.clientError : levels.serverError;
    if (enabled(level)) write(level, ctx, code, started, err);
    return err;
  };

  // Not async (see recovery): handlers on next()'s promise, the success one only when successes are logged.
  const run = (ctx: ServerContext, next: ServerNext, logOk: boolean): Promise<void> => {
    const started = performance.now();
    return nextPromise(next).then(
      logOk
        ? () => {
            if (sampleRate === 1 || random() < sampleRate) write(levels.ok, ctx, Code.OK, started, undefined);
          }
        : undefined,
      (err: unknown) => {
        throw failed(ctx, started, err);
      },
    );
  };

  // What the logger's level lets through, asked again only when its `level` (pino has one) changes: two
  // isLevelEnabled calls per call were ~1.5% of a server running the default chain (apps/bench).
  let seenLevel: unknown;
  let logOkNow = false;
  let logAnyNow = false;
  return (ctx, next) => {
    // pino's `levelVal` is a plain number; its `level` getter maps it to a label on every read.
    let level = (logger as { levelVal?: unknown }).levelVal;
    if (typeof level !== 'number') level = (logger as { level?: unknown }).level;
    if (level === undefined || level !== seenLevel) {
      seenLevel = level;
      logOkNow = sampleRate > 0 && enabled(levels.ok);
      logAnyNow = logOkNow || enabled(levels.clientError) || enabled(levels.serverError);
    }
    if (!logAnyNow) return next();
    return run(ctx, next, logOkNow);
  };
}
