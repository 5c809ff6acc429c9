import { roundRobin } from '@mini-rpc/balancer';
import { createClient } from '@mini-rpc/client';
import type { ServiceInstance } from '@mini-rpc/protocol';
import { createEtcdRegistry } from '@mini-rpc/registry';
import { createRetryPolicy } from '@mini-rpc/resilience';
import { createServer, silentLogger } from '@mini-rpc/server';
import { describe, expect, it } from 'vitest';
import { useCleanups } from '../../../tooling/testing/harness.js';
import { useEtcd } from '../../../tooling/testing/use-etcd.js';
import { Arith } from './fixtures.js';
import { type ChildServer, startChildServer, waitFor } from './helpers.js';

const cleanups = useCleanups();

describe('discovery through a real etcd, with server processes', () => {
  const etcd = useEtcd();

  const registry = (ttlSeconds = 2) => {
    const r = createEtcdRegistry({ endpoints: [etcd.endpoint], ttlSeconds, callTimeoutMs: 1_000 });
    cleanups.push(() => r.close());
    return r;
  };
  const child = async (name: string): Promise<ChildServer> => {
    const c = await startChildServer({ name, env: { CHILD_ETCD: etcd.endpoint, CHILD_TTL_S: '2' } });
    cleanups.push(() => c.kill());
    return c;
  };

  it('a decorator-registered service is discovered by a client that knows only its name', async () => {
    const server = createServer({ logger: silentLogger, registry: registry() });
    server.addService(new Arith());
    await server.listen();
    cleanups.push(() => server.close({ graceMs: 500 }));
    const client = createClient({ registry: registry() });
    cleanups.push(() => client.close());
    expect(await client.service<Arith>('Arith').add({ a: 40, b: 2 })).toBe(42);
  });

  it('a new instance reaches a watching client within 1 s; a SIGKILLed one disappears within TTL + 2 s', async () => {
    const watcher = registry();
    let latest: readonly ServiceInstance[] = [];
    const watch = watcher.watch('Arith', (list) => {
      latest = list;
    });
    cleanups.push(() => watch.stop());
    const client = createClient({ registry: registry(), balancer: roundRobin() });
    cleanups.push(() => client.close());
    const a = await child('a');
    await waitFor(async () => (await client.call('Arith', 'whoami')) === 'a', 2_000, 'first instance');
    const b = await child('b');
    const t0 = Date.now();
    const seen = new Set<string>();
    await waitFor(
      async () => {
        seen.add(await client.call<string>('Arith', 'whoami'));
        return seen.has('b');
      },
      1_000,
      'the new instance to get calls',
    );
    expect(Date.now() - t0).toBeLessThan(1_000);
    await waitFor(() => latest.length === 2, 1_000, 'watcher to list both');
    const killedAt = Date.now();
    await b.kill('SIGKILL');
    await waitFor(() => latest.length === 1, 4_000, 'the killed instance to disappear');
    expect(Date.now() - killedAt).toBeLessThan(4_000);
    expect(latest[0]?.port).toBe(a.port);
  });

  it('etcd killed and restarted: calls to known instances never fail meanwhile, registrations come back by themselves', async () => {
    const client = createClient({
      registry: registry(),
      balancer: roundRobin(),
      retry: createRetryPolicy({ maxRetries: 2, initialDelayMs: 5 }),
    });
    cleanups.push(() => client.close());
    await child('a');
    await child('b');
    const seen = new Set<string>();
    await waitFor(
      async () => {
        seen.add(await client.call<string>('Arith', 'whoami'));
        return seen.size === 2;
      },
      3_000,
      'both instances',
    );

    await etcd.kill('SIGKILL');
    let failed = 0;
    let calls = 0;
    const outageEnds = Date.now() + 3_000; // longer than the 2 s lease TTL: the leases are lost
    const during = new Set<string>();
    while (Date.now() < outageEnds && calls < 100_000) {
      calls++;
      await client
        .call<string>('Arith', 'whoami')
        .then((who) => during.add(who))
        .catch(() => {
          failed++;
        });
    }
    expect(failed).toBe(0);
    expect([...during].sort()).toEqual(['a', 'b']);

    await etcd.restart();
    const check = registry();
    await waitFor(
      async () => (await check.discover('Arith').catch(() => [])).length === 2,
      8_000,
      'the children to re-register',
    );
    expect(await client.call('Arith', 'add', { a: 1, b: 2 })).toBe(3);
  });
});
