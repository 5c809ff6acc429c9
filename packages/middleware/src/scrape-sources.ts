import type { Registry } from 'prom-client';

const byRegistry = new WeakMap<Registry, Map<string, Map<unknown, unknown>>>();

/**
 * The sources that collect-on-scrape metric `name` of `registry` reads. Kept per registry and name rather
 * than per gauge, so a second `poolMetrics()` on the same registry adds to the gauge the first one created.
 */
export function sourcesOf<T>(registry: Registry, name: string): Map<unknown, T> {
  let named = byRegistry.get(registry);
  if (named === undefined) {
    named = new Map();
    byRegistry.set(registry, named);
  }
  let sources = named.get(name);
  if (sources === undefined) {
    sources = new Map();
    named.set(name, sources);
  }
  return sources as Map<unknown, T>;
}

/** Stops a collect-on-scrape source: after `close()` its values no longer appear in scrapes. */
export interface MetricsSource {
  close(): void;
}
