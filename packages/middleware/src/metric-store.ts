import type { Registry } from 'prom-client';
import { Counter, Gauge } from 'prom-client';

type Kind = typeof Counter | typeof Gauge;

/**
 * Returns the metric `name` of `registry`, creating it on first use. Two servers (or a server and a test)
 * sharing one registry then share the metric objects instead of failing with prom-client's "already
 * registered" error.
 *
 * @throws TypeError when `name` is already registered as another kind of metric or with other labels.
 */
function getOrCreate<T>(
  kind: Kind,
  registry: Registry,
  name: string,
  labelNames: readonly string[],
  make: () => T,
): T {
  const existing = registry.getSingleMetric(name) as unknown;
  if (existing === undefined) return make();
  const labels = (existing as { labelNames?: readonly string[] }).labelNames ?? [];
  if (!(existing instanceof kind) || labels.join() !== labelNames.join()) {
    throw new TypeError(`metric ${name} is already registered with another type or other labels`);
  }
  return existing as T;
}

/** A counter named `name` in `registry`, created on first use; `collect` runs on each scrape. */
export function counterIn<T extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly T[],
  collect?: (this: Counter<T>) => void,
): Counter<T> {
  return getOrCreate(Counter, registry, name, labelNames, () =>
    collect === undefined
      ? new Counter({ name, help, labelNames, registers: [registry] })
      : new Counter({ name, help, labelNames, registers: [registry], collect }),
  );
}

/** A gauge named `name` in `registry`, created on first use; `collect` runs on each scrape. */
export function gaugeIn<T extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly T[],
  collect?: (this: Gauge<T>) => void,
): Gauge<T> {
  return getOrCreate(Gauge, registry, name, labelNames, () =>
    collect === undefined
      ? new Gauge({ name, help, labelNames, registers: [registry] })
      : new Gauge({ name, help, labelNames, registers: [registry], collect }),
  );
}
