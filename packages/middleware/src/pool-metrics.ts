import type { Gauge, Registry } from 'prom-client';
import { register } from 'prom-client';
import { gaugeIn } from './metric-store.js';
import type { MetricsSource } from './scrape-sources.js';
import { sourcesOf } from './scrape-sources.js';

/** A connection pool's counters at one moment, as {@link poolMetrics} reads them. */
export interface PoolStats {
  /** Connections opened since the pool started. */
  readonly created: number;
  /** Calls that went over an already open connection, since the pool started. */
  readonly reused: number;
  /** Connections open now with calls in flight. */
  readonly active: number;
  /** Connections open now without calls in flight. */
  readonly idle: number;
  /** reused / (reused + created), 0…1. */
  readonly reuseRatio: number;
}

/** Options for {@link poolMetrics}. */
export interface PoolMetricsOptions {
  /** Reads the pool's counters; called on each scrape, never on the call path. */
  stats: () => PoolStats;
  /** Where the gauges are registered. Default: prom-client's global `register`. */
  registry?: Registry;
  /** The `pool` label, to tell several pools (clients) apart. Default `'default'`; reusing a name replaces it. */
  pool?: string;
  /** Prefix of every metric name. Default `'mini_rpc_'`. */
  prefix?: string;
}

const FIELDS: readonly (readonly [keyof PoolStats, string, string])[] = [
  ['created', 'pool_connections_created', 'Connections the pool opened since it started.'],
  [
    'reused',
    'pool_connections_reused',
    'Calls that reused an open pooled connection since the pool started.',
  ],
  ['active', 'pool_connections_active', 'Pooled connections with calls in flight.'],
  ['idle', 'pool_connections_idle', 'Pooled connections without calls in flight.'],
  ['reuseRatio', 'pool_reuse_ratio', 'Share of calls that reused an open connection, 0 to 1.'],
];

/**
 * Registers collect-on-scrape gauges for a client's connection pool: `mini_rpc_pool_connections_created`,
 * `…_reused`, `…_active`, `…_idle` and `mini_rpc_pool_reuse_ratio`, each with a `pool` label. `stats()` runs
 * once per gauge per scrape; a `stats()` that throws (or gives a field that is not a number) leaves its pool
 * out of that scrape.
 *
 * @returns a handle whose `close()` removes this pool from later scrapes.
 * @throws TypeError when a metric name is already registered as another kind of metric.
 * @example
 * ```ts
 * const source = poolMetrics({ registry, pool: 'users', stats: () => client.stats() });
 * // on shutdown
 * source.close();
 * ```
 */
export function poolMetrics(options: PoolMetricsOptions): MetricsSource {
  const registry = options.registry ?? register;
  const prefix = options.prefix ?? 'mini_rpc_';
  const pool = options.pool ?? 'default';
  const sources = sourcesOf<() => PoolStats>(registry, `${prefix}pool`);
  for (const [field, suffix, help] of FIELDS) {
    gaugeIn(registry, `${prefix}${suffix}`, help, ['pool'], function (this: Gauge<'pool'>) {
      this.reset();
      for (const [name, stats] of sources) {
        try {
          // set() inside: it throws for a value that is not a number, which must not fail the whole scrape.
          this.set({ pool: name as string }, stats()[field]);
        } catch {
          // This pool is left out of this scrape.
        }
      }
    });
  }
  sources.set(pool, options.stats);
  const { stats } = options;
  return {
    close() {
      if (sources.get(pool) === stats) sources.delete(pool);
    },
  };
}
