import type { ServerNext } from '@mini-rpc/protocol';

/**
 * `next()`'s promise, with a synchronous throw from it turned into a rejection, so that a middleware puts one
 * pair of handlers on it for both (the server's own `next` never throws; another host's may). Costs no
 * allocation when `next()` returns a native promise, as the server's does.
 */
export function nextPromise(next: ServerNext): Promise<void> {
  try {
    return Promise.resolve(next());
  } catch (err) {
    return Promise.reject(err);
  }
}
