import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { DurationSeries } from './duration-metric.js';
import { durationMetricIn } from './duration-metric.js';

describe('DurationMetric', () => {
  it('exposes cumulative buckets (le inclusive), +Inf, sum and count like a prom-client histogram', async () => {
    const registry = new Registry();
    const series: DurationSeries = {
      service: 'S',
      method: 'm',
      bucketCounts: new Float64Array(3),
      sum: 0,
      count: 0,
    };
    const metric = durationMetricIn(registry, 'd_seconds', 'help', [0.1, 1], new Map([[1, () => [series]]]));
    for (const v of [0.05, 0.1, 0.5, 2]) {
      series.bucketCounts[metric.bucketOf(v)]! += 1;
      series.sum += v;
      series.count++;
    }
    const text = await registry.metrics();
    expect(text).toContain('# TYPE d_seconds histogram');
    expect(text).toContain('d_seconds_bucket{le="0.1",service="S",method="m"} 2');
    expect(text).toContain('d_seconds_bucket{le="1",service="S",method="m"} 3');
    expect(text).toContain('d_seconds_bucket{le="+Inf",service="S",method="m"} 4');
    expect(text).toContain('d_seconds_sum{service="S",method="m"} 2.65');
    expect(text).toContain('d_seconds_count{service="S",method="m"} 4');
    registry.resetMetrics();
    expect(series.count).toBe(0);
    expect(() => durationMetricIn(registry, 'd_seconds', 'help', [1], new Map())).not.toThrow();
  });

  it('refuses a name another kind of metric already uses', async () => {
    const { Counter } = await import('prom-client');
    const registry = new Registry();
    new Counter({ name: 'taken', help: 'h', registers: [registry] });
    expect(() => durationMetricIn(registry, 'taken', 'help', [1], new Map())).toThrow(TypeError);
  });
});
