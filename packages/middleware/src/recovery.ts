import type { ServerContext, ServerMiddleware, ServerNext } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';
import { pino } from 'pino';
import { isAbortFallout, markRecovered } from './code-of.js';
import type { ErrorLogger } from './logger.js';

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
  const fail = (err: unknown, ctx: ServerContext): never => {
    if (err instanceof RpcError) throw err;
    if (isAbortFallout(err, ctx)) throw RpcError.from(err);
    logger ??= pino({ name: 'mini-rpc' });
    logger.error(
      {
        err: err instanceof Error ? err : describeThrown(err),
        service: ctx.service,
        method: ctx.method,
        requestId: ctx.requestId,
        peer: ctx.peer,
      },
      'unexpected error in call',
    );
    throw new RpcError(Code.Internal, INTERNAL_ERROR_MESSAGE, { cause: err });
  };
  return async (ctx: ServerContext, next: ServerNext): Promise<void> => {
    markRecovered(ctx);
    try {
      // Inside try, both a rejection and a synchronous throw from the next middleware are caught.
      await next();
    } catch (err) {
      fail(err, ctx);
    }
  };
}

/** A log-friendly description of a thrown value that is not an Error (it has no stack). */
function describeThrown(value: unknown): Record<string, unknown> {
  let text: string;
  try {
    text = String(value);
  } catch {
    // e.g. Object.create(null): no toString.
    text = Object.prototype.toString.call(value);
  }
  return { type: typeof value, message: `non-Error thrown: ${text}` };
}
