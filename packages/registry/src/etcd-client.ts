import type { IBackoff } from 'cockatiel';
import { ConsecutiveBreaker, circuitBreaker, ExponentialBackoff, handleWhen, noop, retry } from 'cockatiel';
import { Etcd3, isRecoverableError } from 'etcd3';

/**
 * Creates the etcd3 client of one registry, tuned so that an outage is survived and left quickly (README, "Failure behaviour"):
 * - every unary call gets a deadline of `callTimeoutMs` (etcd3's `dialTimeout` bounds nothing, and a call
 *   to a frozen etcd would otherwise hang);
 * - each member's circuit breaker opens after 3 consecutive failures and lets a probe through after
 *   300 ms (etcd3's default, 5 s, keeps failing calls for seconds after etcd is back);
 * - a failed call is tried once more on each other member of a cluster, never again on a single member
 *   (the registry's own loops retry with backoff);
 * - watch streams reconnect after 100 ms, backing off to 1 s (default: up to 30 s);
 * - gRPC keepalive pings a stream's connection every 10 s and drops it after 5 s without an answer, so a
 *   watch on a frozen or partitioned member moves on (etcd's default minimum ping interval is 5 s).
 */
export function createEtcdClient(hosts: string[], callTimeoutMs: number): Etcd3 {
  return new Etcd3({
    hosts,
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
    faultHandling: {
      host: () =>
        circuitBreaker(handleWhen(isRecoverableError), {
          halfOpenAfter: 300,
          breaker: new ConsecutiveBreaker(3),
        }),
      global:
        hosts.length > 1 ? retry(handleWhen(isRecoverableError), { maxAttempts: hosts.length - 1 }) : noop,
      // etcd3 calls `.next()` on this to start each backoff sequence, so it takes a factory, whatever its
      // typings say (its own default is `new ExponentialBackoff()` too).
      watchBackoff: new ExponentialBackoff({
        initialDelay: 100,
        maxDelay: 1000,
      }) as unknown as IBackoff<unknown>,
    },
    grpcOptions: {
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1_000,
    },
  });
}
