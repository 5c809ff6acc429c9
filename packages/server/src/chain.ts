import type { ServerContext, ServerMiddleware } from '@mini-rpc/protocol';
import { Code, isThenable, RpcError } from '@mini-rpc/protocol';

/**
 * Runs `middleware` in onion order around `terminal`: the first element is the outermost.
 * Calling `next()` twice from one middleware is a bug and rejects with Internal. A middleware that returns
 * something other than a promise (plain JS) is done when the `next()` it called is (at once if it called
 * none). An async middleware must await or return `next()`: one that does neither ends the call before the
 * handler, and a rejection of that `next()` is unhandled.
 */
export function runChain(
  middleware: readonly ServerMiddleware[],
  ctx: ServerContext,
  terminal: () => Promise<void>,
): Promise<void> {
  let last = -1;
  const dispatch = (i: number): Promise<void> => {
    if (i <= last)
      return Promise.reject(new RpcError(Code.Internal, 'middleware called next() more than once'));
    last = i;
    const mw = middleware[i];
    if (mw === undefined) return terminal();
    let inner: Promise<void> | undefined;
    try {
      const out: unknown = mw(ctx, () => {
        inner = dispatch(i + 1);
        return inner;
      });
      if (isThenable(out)) return out as Promise<void>;
      // Plain JS that called next() without returning it: the call is done when the rest of the chain is
      // (its result and its errors are the call's), not at once.
      return inner ?? RESOLVED;
    } catch (err) {
      return Promise.reject(err);
    }
  };
  return dispatch(0);
}

const RESOLVED: Promise<void> = Promise.resolve();
