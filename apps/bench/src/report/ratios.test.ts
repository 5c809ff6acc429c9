import { describe, expect, it } from 'vitest';
import { aggregate } from '../load/aggregate.js';
import type { CaseResult, CaseSpec, RunResult } from '../load/case-spec.js';
import type { MicroResults } from './micro-results.js';
import { targetRows } from './ratios.js';

const ORDER_ID = 'mini-rpc msgpack order~1KiB C=64';

const spec: CaseSpec = {
  id: ORDER_ID,
  group: 'compare',
  slot: 'order',
  servers: [{ stack: 'mini-rpc' }],
  client: {
    stack: 'mini-rpc',
    codec: 'msgpack',
    payload: 'order',
    size: 1024,
    mode: { kind: 'closed', concurrency: 64 },
    warmupMs: 1,
    warmupCalls: 1,
    maxWarmupMs: 1,
    windowMs: 1,
  },
};

function run(round: number, callsPerSec: number, codecUsPerCall?: number): RunResult {
  const latency = { count: 1, p50: 1, p90: 1, p99: 1, p999: 1, max: 1, mean: 1 };
  return {
    round,
    calls: 1,
    errors: 0,
    errorCodes: {},
    windowMs: 1000,
    callsPerSec,
    latency,
    clientCpuUsPerCall: 1,
    serverCpuUsPerCall: 1,
    perInstance: [1],
    ...(codecUsPerCall === undefined ? {} : { codecUsPerCall }),
  };
}

// The start-of-run micro bench: 5 µs per encode+decode, a bound of 200,000 calls/s.
const micro: MicroResults = {
  date: '2026-12-04T00:00:00.000Z',
  quick: false,
  tasks: [{ name: 'codec msgpack encode+decode 1KiB', meanUs: 5, p50Us: 5 }],
};

const orderRows = (results: CaseResult[]) =>
  targetRows(results, micro).filter((r) => r.figure.includes('1 KiB'));

describe('the 1 KiB target', () => {
  it('pairs each run with the codec cost timed after it, so a drift that slows both leaves the ratio steady', () => {
    // The host halves its speed between rounds 1 and 3: calls/s halve and the codec's time doubles.
    const result = aggregate(spec, [run(1, 60_000, 5), run(2, 45_000, 6.5), run(3, 30_000, 10)]);
    const [paired, atStart] = orderRows([result]);
    expect(paired?.figure).toMatch(/codec timed right after each run$/);
    expect(paired?.measured).toEqual({ median: 0.3, min: 0.2925, max: 0.3 });
    expect(paired?.target).toBe('≥ 0.5');
    expect(paired?.pass).toBe(false);
    // Against the start-of-run bound the same runs spread 0.15–0.3: information only.
    expect(atStart?.figure).toMatch(/codec timed once at the start of the run$/);
    expect(atStart?.measured).toEqual({ median: 0.225, min: 0.15, max: 0.3 });
    expect(atStart?.pass).toBeUndefined();
  });

  it('passes at half the paired bound and says what the codec cost', () => {
    const result = aggregate(spec, [run(1, 100_000, 5), run(2, 80_000, 6)]);
    const [paired] = orderRows([result]);
    expect(paired?.measured?.median).toBeCloseTo(0.49, 6);
    expect(paired?.pass).toBe(false);
    const better = aggregate(spec, [run(1, 100_000, 5), run(2, 90_000, 6)]);
    const [passing] = orderRows([better]);
    expect(passing?.pass).toBe(true);
    expect(passing?.note).toContain('5.50 µs (5.00–6.00)');
  });

  it('falls back to the start-of-run micro bench when the runs carry no codec timing (older results)', () => {
    const result = aggregate(spec, [run(1, 120_000), run(2, 100_000)]);
    const rows = orderRows([result]);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.measured).toEqual({ median: 0.55, min: 0.5, max: 0.6 });
    expect(rows[0]?.pass).toBe(true);
    expect(rows[0]?.note).toContain('micro bench median');
  });
});

describe('the open-loop target', () => {
  const openSpec = (id: string, stack: 'bare' | 'mini-rpc'): CaseSpec => ({
    ...spec,
    id,
    slot: 'open',
    servers: [{ stack }],
    client: {
      ...spec.client,
      stack,
      codec: stack === 'bare' ? 'raw' : 'msgpack',
      payload: 'bytes',
      size: 64,
    },
  });
  const openRun = (round: number, rate: number, p99: number, dropped: number): RunResult => ({
    ...run(round, rate),
    offeredRate: rate,
    dropped,
    latency: { count: 1, p50: 1, p90: 1, p99, p999: p99, max: p99, mean: 1 },
  });
  const openRows = (results: CaseResult[]) =>
    targetRows(results, micro).filter((r) => r.figure.includes('open loop'));

  it('judges mini-rpc at half its max, and sets beside it the floor at its rate and the ceiling at half its own', () => {
    const results = [
      aggregate(openSpec('mini-rpc msgpack 64B open @½ own max', 'mini-rpc'), [
        openRun(1, 300_000, 1_800, 900),
        openRun(2, 250_000, 700, 0),
        openRun(3, 240_000, 500, 0),
      ]),
      aggregate(openSpec('bare 64B open @½ mini-rpc max', 'bare'), [
        openRun(1, 300_000, 500, 0),
        openRun(2, 250_000, 300, 0),
        openRun(3, 240_000, 400, 0),
      ]),
      aggregate(openSpec('bare 64B open @½ own max', 'bare'), [
        openRun(1, 700_000, 1_200, 5_000),
        openRun(2, 650_000, 900, 0),
        openRun(3, 600_000, 1_100, 2_500),
      ]),
    ];
    const [mini, floor, ceiling] = openRows(results);
    expect(mini?.measured?.median).toBe(700);
    expect(mini?.pass).toBe(true);
    expect(mini?.note).toBe(
      'arrival rate 250,000 calls/s; its generator skipped 900 calls (too many waiting) in 1 of 3 rounds',
    );
    expect(floor?.figure).toMatch(/at mini-rpc’s rate \(the floor of the row above\)$/);
    expect(floor?.measured?.median).toBe(400);
    expect(floor?.pass).toBeUndefined();
    expect(floor?.note).toBe('arrival rate 250,000 calls/s');
    expect(ceiling?.figure).toMatch(
      /at ½ of its own measured max rate \(the same target, put to the ceiling\)$/,
    );
    expect(ceiling?.measured).toEqual({ median: 1_100, min: 900, max: 1_200 });
    expect(ceiling?.pass).toBeUndefined();
    expect(ceiling?.note).toBe(
      'arrival rate 650,000 calls/s; its generator skipped 7,500 calls (too many waiting) in 2 of 3 rounds',
    );
  });
});
