import type { BreakerState } from '@mini-rpc/protocol';
import type { Gauge, Registry } from 'prom-client';
import { register } from 'prom-client';
import { gaugeIn } from './metric-store.js';
import type { MetricsSource } from './scrape-sources.js';
import { sourcesOf } from './scrape-sources.js';

/** Options for {@link breakerMetrics}. */
export interface BreakerMetricsOptions {
  /** The current state of each circuit breaker, by instance id; called on each scrape. */
  states: () => Iterable<readonly [instanceId: string, state: BreakerState]>;
  /** Where the gauge is registered. Default: prom-client's global `register`. */
  registry?: Registry;
  /** Prefix of the metric name. Default `'mini_rpc_'`. */
  prefix?: string;
}

/** The value of `mini_rpc_circuit_state` for each breaker state. */
export const CIRCUIT_STATE_VALUE: Readonly<Record<BreakerState, number>> = {
  closed: 0,
  'half-open': 1,
  open: 2,
};

/**
 * Registers the collect-on-scrape gauge `mini_rpc_circuit_state{instance}`: 0 closed, 1 half-open, 2 open.
 * Instances that `states()` no longer lists disappear from the next scrape. Several sources (clients) may
 * share a registry; a `states()` that throws leaves its breakers out of that scrape.
 *
 * @returns a handle whose `close()` removes this source from later scrapes.
 * @throws TypeError when the metric name is already registered as another kind of metric.
 * @example
 * ```ts
 * breakerMetrics({ registry, states: () => [...breakers].map(([id, b]) => [id, b.state] as const) });
 * ```
 */
export function breakerMetrics(options: BreakerMetricsOptions): MetricsSource {
  const registry = options.registry ?? register;
  const name = `${options.prefix ?? 'mini_rpc_'}circuit_state`;
  const sources = sourcesOf<BreakerMetricsOptions['states']>(registry, name);
  gaugeIn(
    registry,
    name,
    'Circuit breaker state per instance: 0 closed, 1 half-open, 2 open.',
    ['instance'],
    function (this: Gauge<'instance'>) {
      this.reset();
      for (const states of sources.values()) {
        try {
          for (const [instance, state] of states()) this.set({ instance }, CIRCUIT_STATE_VALUE[state]);
        } catch {
          // A broken source must not fail the whole scrape.
        }
      }
    },
  );
  const key = {};
  sources.set(key, options.states);
  return {
    close() {
      sources.delete(key);
    },
  };
}
