import {
  consistentHash,
  leastConnections,
  metadataKey,
  p2c,
  roundRobin,
  smoothWeightedRoundRobin,
  weightedRandom,
} from '@mini-rpc/balancer';
import { createClient } from '@mini-rpc/client';
import type { Balancer } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';
import { createMemoryRegistry } from '@mini-rpc/registry';
import { createServer, silentLogger } from '@mini-rpc/server';
import { describe, expect, it } from 'vitest';
import { useCleanups } from '../../../tooling/testing/harness.js';
import { type Instance, load, shares, startInstances } from './cluster.js';
import { Arith } from './fixtures.js';
import { waitFor } from './helpers.js';

const cleanups = useCleanups();

async function cluster(n: number, options: Parameters<typeof startInstances>[2] = {}) {
  const registry = createMemoryRegistry();
  const instances = await startInstances(registry, n, options);
  cleanups.push(async () => {
    for (const i of instances) await i.server.close({ graceMs: 500 });
    await registry.close();
  });
  return { registry, instances };
}

function clientFor(registry: ReturnType<typeof createMemoryRegistry>, balancer: Balancer) {
  const client = createClient({ registry, balancer });
  cleanups.push(() => client.close());
  return client;
}

const counts = (instances: readonly Instance[]) => instances.map((i) => i.calls);

describe('discovery and balancing (in-process servers, memory registry)', () => {
  it('a decorated service is found by a client that knows only its name', async () => {
    const registry = createMemoryRegistry();
    const server = createServer({ logger: silentLogger, registry });
    server.addService(new Arith());
    await server.listen();
    cleanups.push(async () => {
      await server.close({ graceMs: 500 });
      await registry.close();
    });
    const client = createClient({ registry });
    cleanups.push(() => client.close());
    expect(await client.service<Arith>('Arith').add({ a: 20, b: 22 })).toBe(42);
    expect((await registry.discover('Arith')).map((i) => i.id)).toEqual(server.instances.map((i) => i.id));
  });

  it('round robin: 30,000 calls over 3 instances, exactly a third each (±1)', async () => {
    const { registry, instances } = await cluster(3);
    const client = clientFor(registry, roundRobin());
    expect(await load(() => client.call('Echo', 'echo', 1), 30_000, 64)).toBe(0);
    for (const n of counts(instances)) expect(Math.abs(n - 10_000)).toBeLessThanOrEqual(1);
  });

  it('weighted random with equal weights: each within ±3% of a third', async () => {
    const { registry, instances } = await cluster(3);
    const client = clientFor(registry, weightedRandom());
    expect(await load(() => client.call('Echo', 'echo', 1), 30_000, 64)).toBe(0);
    for (const s of shares(instances)) expect(Math.abs(s - 1 / 3)).toBeLessThan(0.03);
  });

  it('smooth weighted round robin: weights 5:1:1 match exactly over full cycles', async () => {
    const { registry, instances } = await cluster(3, { weights: [5, 1, 1] });
    const client = clientFor(registry, smoothWeightedRoundRobin());
    expect(await load(() => client.call('Echo', 'echo', 1), 7_000, 1)).toBe(0);
    expect(counts(instances)).toEqual([5_000, 1_000, 1_000]);
  });

  it('consistent hash: one key, one instance; a 4th instance takes about a quarter of the keys', async () => {
    const { registry, instances } = await cluster(3);
    const client = clientFor(registry, consistentHash({ key: metadataKey('x-user') }));
    const owner = async (key: string) =>
      client.call<string>('Echo', 'whoami', undefined, { metadata: { 'x-user': key } });
    const keys = Array.from({ length: 2_000 }, (_, i) => `user-${i}`);
    const before = new Map<string, string>();
    for (const k of keys) before.set(k, await owner(k));
    for (const k of keys.slice(0, 50)) expect(await owner(k)).toBe(before.get(k));
    const [fourth] = await startInstances(registry, 1);
    cleanups.push(() => fourth?.server.close({ graceMs: 500 }));
    await waitFor(
      async () => (await owner('probe-new-instance').then(() => true)) && instances.length > 0,
      1_000,
    );
    let moved = 0;
    let movedElsewhere = 0;
    for (const k of keys) {
      const now = await owner(k);
      if (now !== before.get(k)) {
        moved++;
        if (now !== fourth?.id) movedElsewhere++;
      }
    }
    expect(moved / keys.length).toBeGreaterThan(0.18);
    expect(moved / keys.length).toBeLessThan(0.32);
    expect(movedElsewhere).toBe(0);
  });

  it('a slow instance gets clearly less traffic from least-connections and P2C than from round robin', async () => {
    const shareOfSlow: Record<string, number> = {};
    for (const [name, make] of [
      ['round-robin', roundRobin],
      ['least-connections', leastConnections],
      ['p2c', p2c],
    ] as const) {
      const { registry, instances } = await cluster(3, { delays: [20, 1, 1] });
      const client = clientFor(registry, make());
      expect(await load(() => client.call('Echo', 'echo', 1), 900, 12)).toBe(0);
      shareOfSlow[name] = shares(instances)[0] ?? 0;
      await cleanups.run();
    }
    console.log('share of the slow instance', shareOfSlow);
    expect(shareOfSlow['round-robin']).toBeGreaterThan(0.3);
    expect(shareOfSlow['least-connections']).toBeLessThan(0.2);
    expect(shareOfSlow.p2c).toBeLessThan(0.2);
  });

  it('follows the registry: new instances get calls, removed ones drain and get none', async () => {
    const { registry, instances } = await cluster(2);
    const client = clientFor(registry, roundRobin());
    expect(await load(() => client.call('Echo', 'echo', 1), 100, 4)).toBe(0);
    const [third] = await startInstances(registry, 1);
    cleanups.push(() => third?.server.close({ graceMs: 500 }));
    await waitFor(
      async () => {
        await client.call('Echo', 'echo', 1);
        return (third?.calls ?? 0) > 0;
      },
      1_000,
      'the new instance to get calls',
    );
    const first = instances[0] as Instance;
    await first.server.close({ graceMs: 1_000 });
    const before = first.calls;
    expect(await load(() => client.call('Echo', 'echo', 1), 300, 8)).toBe(0);
    expect(first.calls).toBe(before);
  });

  it('no instance registered: calls fail fast with Unavailable', async () => {
    const registry = createMemoryRegistry();
    cleanups.push(() => registry.close());
    const client = clientFor(registry, roundRobin());
    const t0 = Date.now();
    const err = (await client.call('Nobody', 'x').catch((e: unknown) => e)) as RpcError;
    expect(err).toBeInstanceOf(RpcError);
    expect(err.code).toBe(Code.Unavailable);
    expect(Date.now() - t0).toBeLessThan(1_000);
  });
});
