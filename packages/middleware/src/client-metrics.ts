import type { CallNext, CallRequest, ClientInterceptor } from '@mini-rpc/protocol';
import { Code } from '@mini-rpc/protocol';
import { register } from 'prom-client';
import { CallMetrics, DEFAULT_DURATION_BUCKETS } from './call-metrics.js';
import { codeFrom } from './code-of.js';
import type { MetricsOptions } from './metrics.js';

/**
 * Client interceptor that records Prometheus metrics for every outgoing call:
 * `mini_rpc_client_requests_total{service,method,code}`, `mini_rpc_client_request_duration_seconds{service,method}`
 * and `mini_rpc_client_in_flight{service}`. Options and caching as in {@link metrics}.
 *
 * The client's retries and failover run inside its interceptors, so this counts one call however many
 * attempts it took, and measures what the caller experiences.
 *
 * @throws TypeError when a metric name is already registered as another kind of metric; RangeError for
 * buckets that are not finite and strictly increasing.
 * @example
 * ```ts
 * const client = createClient({ interceptors: [clientMetrics({ registry })] });
 * ```
 */
export function clientMetrics(options: MetricsOptions = {}): ClientInterceptor {
  const calls = new CallMetrics(
    options.registry ?? register,
    options.prefix ?? 'mini_rpc_',
    'client',
    options.buckets ?? DEFAULT_DURATION_BUCKETS,
  );
  return (next: CallNext): CallNext =>
    async (call: CallRequest): Promise<unknown> => {
      const series = calls.series(call.service, call.method);
      series.start();
      const started = performance.now();
      let result: unknown;
      try {
        result = await next(call);
      } catch (err) {
        series.finish(codeFrom(err), started);
        throw err;
      }
      series.finish(Code.OK, started);
      return result;
    };
}
