import { describe, expect, it } from 'vitest';
import type { CaseSpec, RunResult } from './case-spec.js';
import { buildCases, QUICK } from './cases.js';
import { resolveRate, roundOrder } from './suite.js';

const cases = buildCases(QUICK);
const byId = (id: string): CaseSpec => {
  const c = cases.find((x) => x.id === id);
  if (c === undefined) throw new Error(`no case ${id}`);
  return c;
};
const run = (callsPerSec: number): RunResult =>
  ({
    callsPerSec,
    round: 1,
    latency: { count: 1, p50: 1, p90: 1, p99: 1, p999: 1, max: 1, mean: 1 },
  }) as RunResult;

describe('buildCases', () => {
  it('has unique ids and races the four stacks at every in-flight count and size', () => {
    expect(new Set(cases.map((c) => c.id)).size).toBe(cases.length);
    for (const id of ['bare 64B C=1', 'mini-rpc msgpack 64B C=64', 'grpc 1KiB C=256', 'http 64B C=16']) {
      expect(byId(id).group).toBe('compare');
    }
  });

  it('with a fixed open-loop rate, has one open case per stack at that rate and no derived ones', () => {
    const open = buildCases(QUICK, 190_000).filter((c) => c.group === 'open');
    expect(open.map((c) => c.id)).toEqual([
      'bare 64B open @190000/s',
      'mini-rpc msgpack 64B open @190000/s',
      'grpc 64B open @190000/s',
      'http 64B open @190000/s',
      'moleculer json 64B open @190000/s',
    ]);
    for (const c of open) {
      expect(c.rateFrom).toBeUndefined();
      expect(c.client.mode).toEqual({ kind: 'open', rate: 190_000, maxOutstanding: 1_000 });
    }
    expect(cases.filter((c) => c.group === 'open').every((c) => c.rateFrom !== undefined)).toBe(true);
  });

  it('warms the open loop up for its own time, and only the open loop', () => {
    const settings = { ...QUICK, warmupMs: 100, maxWarmupMs: 1_000, openWarmupMs: 4_000 };
    const built = buildCases(settings, 190_000);
    for (const c of built) {
      const open = c.group === 'open';
      expect([c.id, c.client.warmupMs], c.id).toEqual([c.id, open ? 4_000 : 100]);
      expect([c.id, c.client.maxWarmupMs], c.id).toEqual([c.id, open ? 4_000 : 1_000]);
    }
    expect(built.filter((c) => c.group === 'open')).toHaveLength(5);
  });

  it('runs 64 B at 1 in flight once more per stack with every process pinned to CPU 0', () => {
    const oneCore = { client: '0', servers: '0' };
    const pinned = cases.filter((c) => c.group === 'one-core');
    expect(pinned.map((c) => [c.id, c.cpus])).toEqual([
      ['bare 64B C=1 one core', oneCore],
      ['mini-rpc msgpack 64B C=1 one core', oneCore],
      ['grpc 64B C=1 one core', oneCore],
      ['http 64B C=1 one core', oneCore],
      ['moleculer json 64B C=1 one core', oneCore],
    ]);
    for (const c of pinned) {
      const twoCores = byId(c.id.replace(/ one core$/, ''));
      expect(c.client).toEqual(twoCores.client);
      expect(c.servers).toEqual(twoCores.servers);
    }
  });

  it('pins the open loop client to CPU 0 and its server to CPU 1, and nothing else but the one-core cases', () => {
    for (const set of [cases, buildCases(QUICK, 190_000)]) {
      const open = set.filter((c) => c.group === 'open');
      expect(open.length).toBeGreaterThan(0);
      for (const c of open) expect(c.cpus, c.id).toEqual({ client: '0', servers: '1' });
      const others = set.filter((c) => c.group !== 'open' && c.group !== 'one-core');
      expect(others.filter((c) => c.cpus !== undefined).map((c) => c.id)).toEqual([]);
    }
  });
});

describe('roundOrder', () => {
  it('keeps each slot together and rotates the order of its cases from round to round', () => {
    const slot = (round: number): string[] =>
      roundOrder(cases, round)
        .filter((c) => c.slot === '64B C=1')
        .map((c) => c.id);
    expect(slot(0)[0]).toBe('bare 64B C=1');
    expect(slot(1)[0]).toBe('mini-rpc msgpack 64B C=1');
    expect(new Set(slot(1))).toEqual(new Set(slot(0)));
    expect(roundOrder(cases, 2)).toHaveLength(cases.length);
  });
});

describe('resolveRate', () => {
  it('takes half of the stack’s own best closed-loop rate, or half of the slowest stack’s best', () => {
    const done = [
      { spec: byId('bare 64B C=1'), run: run(10_000) },
      { spec: byId('bare 64B C=64'), run: run(100_000) },
      { spec: byId('mini-rpc msgpack 64B C=64'), run: run(40_000) },
      { spec: byId('grpc 64B C=64'), run: run(4_000) },
      { spec: byId('http 64B C=16'), run: run(6_000) },
      { spec: byId('moleculer json 64B C=64'), run: run(8_000) },
    ];
    expect(resolveRate(byId('bare 64B open @½ own max'), cases, done)).toBe(50_000);
    expect(resolveRate(byId('mini-rpc msgpack 64B open @½ own max'), cases, done)).toBe(20_000);
    expect(resolveRate(byId('http 64B open @½ slowest max'), cases, done)).toBe(2_000);
  });

  it('offers the bare echo the rate of mini-rpc’s own open loop, the floor of its target', () => {
    const done = [
      { spec: byId('bare 64B C=64'), run: run(100_000) },
      { spec: byId('mini-rpc msgpack 64B C=16'), run: run(30_000) },
      { spec: byId('mini-rpc msgpack 64B C=64'), run: run(40_000) },
      { spec: byId('mini-rpc json 64B C=64'), run: run(90_000) },
    ];
    const floor = byId('bare 64B open @½ mini-rpc max');
    expect(resolveRate(floor, cases, done)).toBe(20_000);
    expect(resolveRate(floor, cases, done)).toBe(
      resolveRate(byId('mini-rpc msgpack 64B open @½ own max'), cases, done),
    );
    // --only may leave mini-rpc's open case out: the rate still follows mini-rpc's msgpack maximum.
    const selected = cases.filter((c) => c.id !== 'mini-rpc msgpack 64B open @½ own max');
    expect(resolveRate(floor, selected, done)).toBe(20_000);
  });

  it('falls back to a fixed rate when the closed-loop cases did not run', () => {
    expect(resolveRate(byId('grpc 64B open @½ own max'), cases, [])).toBe(5_000);
  });
});
