import type { ConnectionOptions as TlsConnectOptions } from 'node:tls';
import type { Codec } from '@mini-rpc/codec';
import type {
  Balancer,
  BreakerFactory,
  ClientInterceptor,
  Limiter,
  Registry,
  RetryPolicy,
} from '@mini-rpc/protocol';
import type { Call } from './call.js';
import type { CallOptions } from './call-options.js';
import type { PoolOptions, PoolStats } from './pool.js';
import type { ServiceProxy } from './service-proxy.js';

/**
 * Options of {@link createClient}. Give `address` (one server) or `registry` (discovery). A numeric option
 * out of its range (NaN, a negative or zero time, a timer delay over 2^31 − 1 ms) is a TypeError.
 */
export interface ClientOptions {
  /** One server, `host:port` or `{ host, port }`. */
  address?: string | { host: string; port: number };
  /**
   * Discover instances by service name here. A repeated id counts once; an entry without an id, a host or
   * a port in 1…65535 is left out with a process warning.
   */
  registry?: Registry;
  /** Picks an instance per call in discovery mode. Default: round robin. */
  balancer?: Balancer;
  /** Default codec. Default MessagePack. */
  codec?: Codec;
  /** Default call timeout, ms. No call waits longer. Default 30,000. */
  timeoutMs?: number;
  /** Connect timeout, ms. Default 3,000. */
  connectTimeoutMs?: number;
  /** Connections per server address. */
  pool?: PoolOptions;
  /** Connect with TLS (`ca`, and `cert` + `key` for mutual TLS). */
  tls?: TlsConnectOptions;
  /** Heartbeat interval, ms. Default 5,000. */
  heartbeatIntervalMs?: number;
  /** A server silent this long (not even heartbeats) is declared dead, ms. Default 15,000. */
  readTimeoutMs?: number;
  /** Client interceptors, outermost first. */
  interceptors?: readonly ClientInterceptor[];
  /**
   * When and how to retry failed calls (only when safe). Default: no retry, except never-sent calls fail over.
   * A server's retry-after hint (`:r` in the error's metadata) reaches the policy only when the retry can go
   * to no other instance; otherwise the policy sees a copy of the error without it (the original as `cause`).
   */
  retry?: RetryPolicy;
  /**
   * A circuit breaker per instance. When the factory has a `delete(id)` method (a group from
   * `createBreakerGroup()` of `@mini-rpc/resilience`), the client calls it for every instance that leaves
   * the registry's list or moves to another address, so an id that comes back starts closed.
   */
  breakers?: BreakerFactory;
  /** Limits concurrent calls (bulkhead): one limiter for all calls, or one per instance id. */
  bulkhead?: Limiter | ((instanceId: string) => Limiter);
  /** Methods that may safely run more than once: `'Service.method'` names or a predicate. */
  idempotent?: readonly string[] | ((service: string, method: string) => boolean);
}

/** A mini-rpc client. */
export interface Client {
  /** Calls `service.method(args)` and resolves with its result; rejects with RpcError, never throws. */
  call<TRes = unknown>(service: string, method: string, args?: unknown, options?: CallOptions): Promise<TRes>;
  /** Starts a call and returns at once; await `call.done`, or read `settled`/`result`/`error` later. */
  go<TRes = unknown>(service: string, method: string, args?: unknown, options?: CallOptions): Call<TRes>;
  /** A typed proxy for a service: `client.service<Arith>('Arith').add({ a, b })`. */
  service<T>(name: string, defaults?: CallOptions): ServiceProxy<T>;
  /** Pool counters summed over every server address. */
  stats(): PoolStats;
  /**
   * Closes every connection and stops watching the registry; calls still pending (waiting included) fail
   * with Unavailable at once, and nothing reopens a watch or a connection after it. Resolves once every
   * watch has stopped; a second call returns the same promise.
   */
  close(): Promise<void>;
}
