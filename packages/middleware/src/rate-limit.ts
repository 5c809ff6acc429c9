import type { ServerContext, ServerMiddleware, ServerNext } from '@mini-rpc/protocol';
import { Code, MetadataKey, RpcError } from '@mini-rpc/protocol';
import { BucketStore, TokenBucket } from './token-bucket.js';

/** What one token bucket is shared by: all calls, each method, each caller, or a key you compute. */
export type RateLimitScope = 'global' | 'method' | 'caller' | ((ctx: ServerContext) => string);

/** Options for {@link rateLimit}. */
export interface RateLimitOptions {
  /** Sustained rate, in calls (tokens) per second. Must be > 0. */
  rate: number;
  /** Bucket size: how many calls may arrive at once after a quiet spell. Must be ≥ 1. */
  burst: number;
  /** Default `'global'`. `'method'` keys by service and method; `'caller'` by `identity(ctx)`. */
  by?: RateLimitScope;
  /**
   * The caller's key for `by: 'caller'`. Default: `ctx.state.identity.subject` when {@link auth} ran before,
   * else the host part of `ctx.peer`.
   */
  identity?: (ctx: ServerContext) => string;
  /** Monotonic clock in milliseconds. Default `performance.now`. */
  now?: () => number;
  /** Most buckets kept for `'caller'` and custom keys: finite, ≥ 1. Default 10 000. */
  maxKeys?: number;
}

/**
 * Server middleware that limits calls with a token bucket: each call takes a token, tokens come back at
 * `rate` per second up to `burst`. Refill is computed lazily on use — no timers. A call over the limit is
 * rejected before the handler runs with `RpcError(Code.ResourceExhausted)` whose metadata carries
 * `MetadataKey.RetryAfter` (`':r'`): the milliseconds until a token is available.
 *
 * Memory stays bounded with per-caller keys: see `maxKeys`. Install it after {@link auth} so that
 * `by: 'caller'` sees the authenticated identity.
 *
 * @throws RangeError from the factory when `rate`, `burst` or `maxKeys` is out of range.
 * @example
 * ```ts
 * const limit = rateLimit({ rate: 100, burst: 20, by: 'caller' });
 * ```
 */
export function rateLimit(options: RateLimitOptions): ServerMiddleware {
  const { rate, burst } = options;
  const maxKeys = options.maxKeys ?? 10_000;
  const perMs = rate / 1000;
  // perMs > 0 as well: a rate so small that it underflows would never give a token back.
  if (!(rate > 0 && perMs > 0 && Number.isFinite(rate)))
    throw new RangeError('rateLimit: rate must be a positive finite number');
  if (!(burst >= 1 && Number.isFinite(burst))) throw new RangeError('rateLimit: burst must be at least 1');
  if (!(maxKeys >= 1 && Number.isFinite(maxKeys)))
    throw new RangeError('rateLimit: maxKeys must be a finite number ≥ 1');
  const now = options.now ?? performance.now.bind(performance);
  const scope = options.by ?? 'global';

  let bucketOf: (ctx: ServerContext, at: number) => TokenBucket;
  if (scope === 'global') {
    const bucket = new TokenBucket(burst, now());
    bucketOf = () => bucket;
  } else if (scope === 'method') {
    // Keys come from the server's registered methods, so this map is bounded without a sweep.
    const byService = new Map<string, Map<string, TokenBucket>>();
    bucketOf = (ctx, at) => {
      let methods = byService.get(ctx.service);
      if (methods === undefined) {
        methods = new Map();
        byService.set(ctx.service, methods);
      }
      let bucket = methods.get(ctx.method);
      if (bucket === undefined) {
        bucket = new TokenBucket(burst, at);
        methods.set(ctx.method, bucket);
      }
      return bucket;
    };
  } else {
    const keyOf = scope === 'caller' ? (options.identity ?? callerOf) : scope;
    const store = new BucketStore(maxKeys, perMs, burst);
    bucketOf = (ctx, at) => store.get(keyOf(ctx), at);
  }

  return (ctx: ServerContext, next: ServerNext): Promise<void> => {
    const at = now();
    const waitMs = bucketOf(ctx, at).take(at, perMs, burst);
    if (waitMs === 0) return next();
    return Promise.reject(
      new RpcError(Code.ResourceExhausted, 'rate limit exceeded', {
        metadata: { [MetadataKey.RetryAfter]: String(waitMs) },
      }),
    );
  };
}

/** The default caller key: the authenticated subject, else the peer's host (its port changes per connection). */
function callerOf(ctx: ServerContext): string {
  const subject = (ctx.state.identity as { subject?: unknown } | undefined)?.subject;
  if (typeof subject === 'string') return subject;
  const colon = ctx.peer.lastIndexOf(':');
  return colon > 0 ? ctx.peer.slice(0, colon) : ctx.peer;
}
