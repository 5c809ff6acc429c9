import type { CaseResult, CaseSpec, RunResult, Spread } from './case-spec.js';

/** Median (mean of the middle two for an even count), min and max; zeros for no values. */
export function spread(values: readonly number[]): Spread {
  if (values.length === 0) return { median: 0, min: 0, max: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median =
    sorted.length % 2 === 1
      ? (sorted[mid] as number)
      : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { median, min: sorted[0] as number, max: sorted[sorted.length - 1] as number };
}

/** Folds the runs of one case into its result: each figure as median and min–max over the rounds. */
export function aggregate(
  spec: CaseSpec,
  runs: readonly RunResult[],
  outcome: { skipped?: string; failed?: string } = {},
): CaseResult {
  const base = {
    id: spec.id,
    group: spec.group,
    stack: spec.client.stack,
    codec: spec.client.codec,
    payload: spec.client.payload,
    size: spec.client.size,
    mode: spec.client.mode,
    servers: spec.servers,
    client: spec.client,
    ...(spec.cpus === undefined ? {} : { cpus: spec.cpus }),
    runs,
    ...outcome,
  };
  if (runs.length === 0) return base;
  const of = (f: (r: RunResult) => number): Spread => spread(runs.map(f));
  return {
    ...base,
    callsPerSec: of((r) => r.callsPerSec),
    p50: of((r) => r.latency.p50),
    p90: of((r) => r.latency.p90),
    p99: of((r) => r.latency.p99),
    p999: of((r) => r.latency.p999),
    clientCpuUsPerCall: of((r) => r.clientCpuUsPerCall),
    serverCpuUsPerCall: of((r) => r.serverCpuUsPerCall),
    errors: of((r) => r.errors),
  };
}
