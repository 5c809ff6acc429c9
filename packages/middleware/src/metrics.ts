import type { ServerContext, ServerMiddleware, ServerNext } from '@mini-rpc/protocol';
import { Code } from '@mini-rpc/protocol';
import type { Registry } from 'prom-client';
import { register } from 'prom-client';
import { CallMetrics, DEFAULT_DURATION_BUCKETS } from './call-metrics.js';
import { codeOf } from './code-of.js';
import { nextPromise } from './next-promise.js';

/** Options for {@link metrics} and {@link clientMetrics}. */
export interface MetricsOptions {
  /** Where the metrics are registered. Default: prom-client's global `register`. */
  registry?: Registry;
  /** Prefix of every metric name. Default `'mini_rpc_'`. */
  prefix?: string;
  /** Duration histogram buckets, in seconds. Default {@link DEFAULT_DURATION_BUCKETS} (0.5 ms … 10 s). */
  buckets?: readonly number[];
}

/**
 * Server middleware that records Prometheus metrics for every call:
 * `mini_rpc_server_requests_total{service,method,code}` (counter; `code` is the name, e.g. `NotFound`),
 * `mini_rpc_server_request_duration_seconds{service,method}` (histogram) and
 * `mini_rpc_server_in_flight{service}` (gauge).
 *
 * The metric objects are created once per registry (a second `metrics()` on the same registry shares them)
 * and the counts of each service/method are kept in plain numbers, handed to prom-client when the registry is
 * scraped, so a call costs two clock reads and a few array updates. Serve them with {@link serveMetrics}.
 *
 * @throws TypeError when a metric name is already registered as another kind of metric; RangeError for
 * buckets that are not finite and strictly increasing.
 * @example
 * ```ts
 * const registry = new Registry();
 * const server = createServer({ middleware: [recovery(), metrics({ registry })] });
 * ```
 */
export function metrics(options: MetricsOptions = {}): ServerMiddleware {
  const calls = new CallMetrics(
    options.registry ?? register,
    options.prefix ?? 'mini_rpc_',
    'server',
    options.buckets ?? DEFAULT_DURATION_BUCKETS,
  );
  // Not async (see recovery): handlers on next()'s promise.
  return (ctx: ServerContext, next: ServerNext): Promise<void> => {
    const series = calls.series(ctx.service, ctx.method);
    series.start();
    const started = performance.now();
    return nextPromise(next).then(
      () => series.finish(Code.OK, started),
      (err: unknown) => {
        series.finish(codeOf(err, ctx), started);
        throw err;
      },
    );
  };
}
