import { connect as netConnect } from 'node:net';
import { roundRobin } from '@mini-rpc/balancer';
import { createClient } from '@mini-rpc/client';
import { rateLimit } from '@mini-rpc/middleware';
import type { ServiceInstance } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';
import { createMemoryRegistry } from '@mini-rpc/registry';
import {
  createBreakerGroup,
  createBulkhead,
  createRetryBudget,
  createRetryPolicy,
} from '@mini-rpc/resilience';
import type { Server, ServerOptions } from '@mini-rpc/server';
import { createServer, silentLogger } from '@mini-rpc/server';
import { describe, expect, it } from 'vitest';
import { useCleanups } from '../../../tooling/testing/harness.js';
import { type Instance, load, startInstances } from './cluster.js';
import { type ChildServer, startChildServer, waitFor } from './helpers.js';

const cleanups = useCleanups();

const childInstance = (child: ChildServer, i: number): ServiceInstance => ({
  id: `Arith@127.0.0.1:${child.port}`,
  name: 'Arith',
  host: '127.0.0.1',
  port: child.port,
  weight: 1,
  metadata: { 'mini-rpc.idempotent': 'add,whoami', n: String(i) },
});

describe('resilience with three instances', () => {
  it('one of three server processes killed (SIGKILL) under load of idempotent calls: zero failed calls', async () => {
    const registry = createMemoryRegistry();
    const children = await Promise.all([0, 1, 2].map((i) => startChildServer({ name: `c${i}` })));
    cleanups.push(async () => {
      for (const c of children) await c.kill();
      await registry.close();
    });
    // The registry keeps listing the killed instance: the client must route around it by itself.
    for (const [i, c] of children.entries()) await registry.register(childInstance(c, i));
    const client = createClient({
      registry,
      balancer: roundRobin(),
      retry: createRetryPolicy({ maxRetries: 3, initialDelayMs: 5, maxDelayMs: 50 }),
      timeoutMs: 5_000,
    });
    cleanups.push(() => client.close());
    const servedBy: Record<string, number> = {};
    let done = 0;
    const killAt = 600;
    let killed: Promise<void> | undefined;
    const failed = await load(
      async () => {
        const who = await client.call<string>('Arith', 'whoami');
        servedBy[who] = (servedBy[who] ?? 0) + 1;
        if (++done === killAt) killed = children[0]?.kill('SIGKILL');
      },
      3_000,
      16,
    );
    await killed;
    expect(failed).toBe(0);
    expect(done).toBe(3_000);
    // After the kill the two survivors carried the load.
    expect((servedBy.c1 ?? 0) + (servedBy.c2 ?? 0)).toBeGreaterThan(3_000 - killAt);
    expect(servedBy.c0 ?? 0).toBeLessThanOrEqual(killAt + 16);
  });

  it('rolling restart of all three instances (graceful close, start again) under load: zero failed calls, non-idempotent too', async () => {
    const registry = createMemoryRegistry();
    let servers: Instance[] = await startInstances(registry, 3);
    cleanups.push(async () => {
      for (const s of servers) await s.server.close({ graceMs: 500 });
      await registry.close();
    });
    const client = createClient({
      registry,
      balancer: roundRobin(),
      retry: createRetryPolicy({ maxRetries: 3, initialDelayMs: 5, maxDelayMs: 50 }),
    });
    cleanups.push(() => client.close());
    let stop = false;
    let calls = 0;
    let failures = 0;
    const errors: string[] = [];
    const worker = async (): Promise<void> => {
      // Non-idempotent method: only calls the server never ran may be retried.
      while (!stop && calls < 50_000) {
        calls++;
        await client.call('Echo', 'echo', { n: calls }, { idempotent: false }).catch((e: unknown) => {
          failures++;
          errors.push(String(e));
        });
      }
    };
    const workers = Array.from({ length: 8 }, worker);
    for (let i = 0; i < 3; i++) {
      const target = calls + 300;
      await waitFor(() => calls >= target, 10_000, 'calls to flow');
      const old = servers[i] as Instance;
      await old.server.close({ graceMs: 2_000 });
      const [fresh] = await startInstances(registry, 1);
      servers = servers.map((s) => (s === old ? (fresh as Instance) : s));
    }
    const target = calls + 300;
    await waitFor(() => calls >= target, 10_000, 'calls to flow after the restarts');
    stop = true;
    await Promise.all(workers);
    expect(errors.slice(0, 3)).toEqual([]);
    expect(failures).toBe(0);
    expect(servers.every((s) => s.calls > 0)).toBe(true);
  });

  it('an instance that never answers: DeadlineExceeded at the deadline, its breaker opens, later calls skip it, half-open probes close it after recovery', async () => {
    const registry = createMemoryRegistry();
    let mute = false;
    const servers: Server[] = [];
    const served: Record<string, number> = {};
    const release: (() => void)[] = [];
    for (const name of ['a', 'b', 'c']) {
      const server = createServer({ logger: silentLogger, registry });
      server.addService(
        {
          who() {
            served[name] = (served[name] ?? 0) + 1;
            if (name === 'a' && mute) return new Promise((resolve) => release.push(() => resolve(name)));
            return name;
          },
        },
        { name: 'Mute' },
      );
      await server.listen();
      servers.push(server);
    }
    cleanups.push(async () => {
      for (const r of release) r();
      for (const s of servers) await s.close({ graceMs: 200 });
      await registry.close();
    });
    const transitions: string[] = [];
    const breakers = createBreakerGroup({
      consecutiveFailures: 3,
      coolDownMs: 300,
      halfOpenMaxProbes: 1,
      successesToClose: 1,
    });
    breakers.on('stateChange', (id, from, to) => {
      if (id.includes(String(servers[0]?.port))) transitions.push(`${from}->${to}`);
    });
    const client = createClient({ registry, balancer: roundRobin(), breakers, timeoutMs: 150 });
    cleanups.push(() => client.close());
    expect(await load(() => client.call('Mute', 'who'), 30, 1)).toBe(0);

    mute = true;
    const outcomes: (string | number)[] = [];
    const t0 = Date.now();
    for (let i = 0; i < 30; i++) {
      outcomes.push(await client.call<string>('Mute', 'who').catch((e: unknown) => (e as RpcError).code));
    }
    const timeouts = outcomes.filter((o) => o === Code.DeadlineExceeded).length;
    expect(timeouts).toBe(3);
    expect(Date.now() - t0).toBeLessThan(3 * 150 + 1_000);
    const skippedA = served.a;
    expect(outcomes.filter((o) => o === 'b' || o === 'c')).toHaveLength(27);
    expect(transitions).toEqual(['closed->open']);

    mute = false;
    for (const r of release.splice(0)) r();
    await waitFor(
      async () => {
        await client.call('Mute', 'who');
        return transitions.includes('half-open->closed');
      },
      5_000,
      'the breaker to close again',
    );
    expect(transitions).toEqual(['closed->open', 'open->half-open', 'half-open->closed']);
    expect(served.a).toBeGreaterThan(skippedA ?? 0);
  });

  it('every instance refusing (Unavailable): calls fail fast and attempts stay within the retry budget', async () => {
    const registry = createMemoryRegistry();
    let attempts = 0;
    const servers: Server[] = [];
    for (let i = 0; i < 3; i++) {
      const server = createServer({ logger: silentLogger, registry });
      server.addService(
        {
          get() {
            attempts++;
            throw new RpcError(Code.Unavailable, 'overloaded');
          },
        },
        { name: 'Down', methods: { get: { idempotent: true } } },
      );
      await server.listen();
      servers.push(server);
    }
    cleanups.push(async () => {
      for (const s of servers) await s.close({ graceMs: 200 });
      await registry.close();
    });
    const budget = createRetryBudget({ ratio: 0.1, minRetriesPerSecond: 10, windowMs: 10_000 });
    const client = createClient({
      registry,
      balancer: roundRobin(),
      retry: createRetryPolicy({ maxRetries: 3, initialDelayMs: 1, maxDelayMs: 5, budget }),
    });
    cleanups.push(() => client.close());
    const calls = 500;
    const t0 = Date.now();
    const codes = await Promise.all(
      Array.from({ length: calls }, () =>
        client.call('Down', 'get').catch((e: unknown) => (e as RpcError).code),
      ),
    );
    expect([...new Set(codes)]).toEqual([Code.Unavailable]);
    expect(Date.now() - t0).toBeLessThan(3_000);
    // Budget: retries ≤ 10 % of calls + 10/s × 10 s window.
    expect(attempts).toBeGreaterThan(calls);
    expect(attempts).toBeLessThanOrEqual(calls * 1.1 + 100);
  });

  it('one server (address), breaker and bulkhead: the breaker opens and calls fail fast without reaching it', async () => {
    let reached = 0;
    const server = createServer({ logger: silentLogger });
    server.addService(
      {
        get() {
          reached++;
          throw new RpcError(Code.Unavailable, 'sick');
        },
      },
      { name: 'Sick' },
    );
    const { port } = await server.listen();
    cleanups.push(() => server.close({ graceMs: 200 }));
    const breakers = createBreakerGroup({ consecutiveFailures: 3, coolDownMs: 60_000 });
    const client = createClient({
      address: `127.0.0.1:${port}`,
      breakers,
      bulkhead: createBulkhead({ maxConcurrent: 10 }),
    });
    cleanups.push(() => client.close());
    const codes: number[] = [];
    for (let i = 0; i < 10; i++)
      codes.push(((await client.call('Sick', 'get').catch((e: unknown) => e)) as RpcError).code);
    expect([...new Set(codes)]).toEqual([Code.Unavailable]);
    expect(reached).toBe(3);
    expect([...breakers.states()].map(([, state]) => state)).toEqual(['open']);
  });

  it('a bulkhead per instance refuses beyond its limit, and the refused calls go to another instance', async () => {
    const { registry, instances } = await (async () => {
      const r = createMemoryRegistry();
      const i = await startInstances(r, 2, { delays: [50, 50] });
      cleanups.push(async () => {
        for (const x of i) await x.server.close({ graceMs: 500 });
        await r.close();
      });
      return { registry: r, instances: i };
    })();
    const limiters = new Map<string, ReturnType<typeof createBulkhead>>();
    const client = createClient({
      registry,
      balancer: roundRobin(),
      retry: createRetryPolicy({ maxRetries: 2, initialDelayMs: 1 }),
      bulkhead: (id) => {
        let l = limiters.get(id);
        if (l === undefined) {
          l = createBulkhead({ maxConcurrent: 4 });
          limiters.set(id, l);
        }
        return l;
      },
    });
    cleanups.push(() => client.close());
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        client.call('Echo', 'echo', 1, { idempotent: false }).catch((e: unknown) => e),
      ),
    );
    expect(results).toEqual(Array.from({ length: 8 }, () => 1));
    expect(instances.map((i) => i.calls)).toEqual([4, 4]);
    const overflow = await Promise.all(
      Array.from({ length: 9 }, () =>
        client.call('Echo', 'echo', 1).catch((e: unknown) => (e as RpcError).code),
      ),
    );
    expect(overflow.filter((r) => r === Code.ResourceExhausted)).toHaveLength(1);
  });

  it("a non-idempotent call refused by one instance's rate limit (before its handler ran) is retried on another", async () => {
    const pay = payCluster();
    // One token, refilled after a second: the second call to this instance within the test is refused.
    await pay.start('limited', { middleware: [rateLimit({ rate: 1, burst: 1 })] });
    await pay.start('open');
    const servedBy = await pay.chargeFour();
    // Round robin sends calls 0 and 2 to the limited instance; call 2 is refused there and must not fail:
    // the server marks it not run, so even a non-idempotent call may go elsewhere, and it runs exactly once.
    expect(servedBy.filter((s) => s === 'limited')).toHaveLength(1);
    expect(pay.ran).toHaveLength(4);
    expect(new Set(pay.ran.map((c) => c.split(':')[1])).size).toBe(4);
  });

  it('a non-idempotent call sent to an instance at its connection limit is retried on another (the refusal says no call ran)', async () => {
    const pay = payCluster();
    const full = await pay.start('full', { maxConnections: 1 });
    await pay.start('open');
    // Another peer holds the full instance's only connection.
    const holder = netConnect({ host: '127.0.0.1', port: full.port as number });
    holder.on('error', () => {});
    cleanups.push(() => holder.destroy());
    await waitFor(() => full.connections === 1, 3_000, 'the holder to be accepted');
    expect(await pay.chargeFour()).toEqual(['open', 'open', 'open', 'open']);
    expect(pay.ran).toEqual(['open:0', 'open:1', 'open:2', 'open:3']);
  });
});

/**
 * Instances of a non-idempotent 'Pay' service (`charge(n)` answers the instance's name and records
 * `name:n` in `ran`), and `chargeFour()`: four calls in turn from a round-robin client that retries.
 */
function payCluster() {
  const registry = createMemoryRegistry();
  cleanups.push(() => registry.close());
  const ran: string[] = [];
  return {
    ran,
    async start(name: string, options: ServerOptions = {}): Promise<Server> {
      const server = createServer({ logger: silentLogger, registry, ...options });
      server.addService({ charge: (n: number) => ran.push(`${name}:${n}`) && name }, { name: 'Pay' });
      await server.listen();
      cleanups.push(() => server.close({ graceMs: 200 }));
      return server;
    },
    async chargeFour(): Promise<string[]> {
      const client = createClient({
        registry,
        balancer: roundRobin(),
        retry: createRetryPolicy({ maxRetries: 2, initialDelayMs: 1, maxDelayMs: 5 }),
      });
      cleanups.push(() => client.close());
      const servedBy = [];
      for (let n = 0; n < 4; n++) servedBy.push(await client.call<string>('Pay', 'charge', n));
      return servedBy;
    },
  };
}
