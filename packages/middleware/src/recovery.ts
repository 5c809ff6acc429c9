import type { ServerContext, ServerMiddleware, ServerNext } from '@mini-rpc/protocol';
import { Code, RpcError, thrownText } from '@mini-rpc/protocol';
import { pino } from 'pino';
import { isKnownError, markRecovered } from './code-of.js';
import type { ErrorLogger } from './logger.js';
import { nextPromise } from './next-promise.js';

/** Options for {@link recovery}. */
export interface RecoveryOptions {
  /** Where the stack of an unexpected error goes. Default: a `pino()` logger on stdout. */
  logger?: ErrorLogger;
}

/** The message callers receive for an unexpected server error. */
export const INTERNAL_ERROR_MESSAGE = 'internal error';

/**
 * Server middleware that turns anything the rest of the chain throws into a safe RpcError.
 *
 * An `RpcError` passes through unchanged. An error caused by the call's own signal (deadline passed, caller
 * cancelled) becomes DeadlineExceeded / Cancelled via `RpcError.from`, without a log line. Anything else —
 * an `Error`, a string, `undefined`, any thrown value — is logged once at `error` level with its stack and
 * the call's service, method, request id and peer, and rethrown as `RpcError(Code.Internal, 'internal error')`
 * with the original as `cause`. The original message is deliberately not sent: messages of unexpected
 * errors often carry internals (SQL, paths, hostnames), and the log line has them all.
 *
 * Install it first (outermost) so it also covers the other middleware. A handler that never settles is
 * not its job: the server's deadline aborts `ctx.signal` and answers DeadlineExceeded.
 *
 * @example
 * ```ts
 * const server = createServer({ middleware: [recovery({ logger: pino() })] });
 * ```
 */
export function recovery(options: RecoveryOptions = {}): ServerMiddleware {
  let logger = options.logger;
  const report = (err: unknown, ctx: ServerContext): void => {
    logger ??= pino({ name: 'mini-rpc' });
    const where = { service: ctx.service, method: ctx.method, requestId: ctx.requestId, peer: ctx.peer };
    try {
      logger.error({ err: isError(err) ? err : describeThrown(err), ...where }, LOG_MESSAGE);
      return;
    } catch {
      // pino's err serializer reads every enumerable property of the error, and one may throw (a lazy
      // field whose connection is gone): log what can be read safely instead.
    }
    try {
      const safe = { type: typeof err, message: thrownText(err), stack: stackOf(err) };
      logger.error({ err: safe, ...where }, LOG_MESSAGE);
    } catch {
      // The logger itself is broken; the caller still gets Internal below.
    }
  };
  /** The error the caller gets for `err`: known ones as they are, anything else Internal (and logged). */
  const failure = (err: unknown, ctx: ServerContext): RpcError => {
    if (isKnownError(err, ctx)) {
      let known: RpcError | undefined;
      try {
        known = RpcError.from(err);
      } catch {
        // An abort fallout whose message cannot be read: treat it like any unexpected error.
      }
      if (known !== undefined) return known;
    }
    report(err, ctx);
    return new RpcError(Code.Internal, INTERNAL_ERROR_MESSAGE, { cause: err });
  };
  // Not async: an async frame and its await cost ~580 bytes and a microtask per call in the default chain
  // (apps/bench); a rejection handler on next()'s promise does the same work, for a synchronous throw from
  // the next middleware too (nextPromise).
  return (ctx: ServerContext, next: ServerNext): Promise<void> => {
    markRecovered(ctx);
    return nextPromise(next).then(undefined, (err: unknown) => {
      throw failure(err, ctx);
    });
  };
}

const LOG_MESSAGE = 'unexpected error in call';

/** `value instanceof Error`, false when even that check throws (a Proxy with a throwing trap). */
function isError(value: unknown): value is Error {
  try {
    return value instanceof Error;
  } catch {
    return false;
  }
}

/** A log-friendly description of a thrown value that is not an Error (it has no stack). */
function describeThrown(value: unknown): Record<string, unknown> {
  return { type: typeof value, message: `non-Error thrown: ${thrownText(value)}` };
}

/** The stack of an Error, when it can be read. */
function stackOf(value: unknown): string | undefined {
  try {
    const stack = (value as { stack?: unknown } | null | undefined)?.stack;
    return typeof stack === 'string' ? stack : undefined;
  } catch {
    return undefined;
  }
}
