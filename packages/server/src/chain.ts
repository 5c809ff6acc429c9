import type { ServerContext, ServerMiddleware } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';

/**
 * Runs `middleware` in onion order around `terminal`: the first element is the outermost.
 * Calling `next()` twice from one middleware is a bug and rejects with Internal. A middleware that returns
 * something other than a promise (plain JS) is taken as done when it returns.
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
    try {
      // Promise.resolve: a plain-JS middleware may return nothing (it called next() without returning it);
      // for the promise an async function returns it is that same promise, at no cost.
      return Promise.resolve(mw(ctx, () => dispatch(i + 1)));
    } catch (err) {
      return Promise.reject(err);
    }
  };
  return dispatch(0);
}
