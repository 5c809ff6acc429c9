import { roundRobin } from '@mini-rpc/balancer';
import { createClient } from '@mini-rpc/client';
import type { RetryPolicy, ServerMiddleware, ServiceInstance } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';
import { createBreakerGroup, createRetryPolicy } from '@mini-rpc/resilience';
import { startChildInstance } from './child-instance.js';
import type { GreeterInstance } from './cluster.js';
import { startGreeters, stopGreeters } from './cluster.js';
import type { Greeter } from './greeter.js';
import { runLoad } from './load.js';
import { openRegistry } from './open-registry.js';
import { heading, say, seconds } from './print.js';
import { waitUntil } from './wait-until.js';

const CALLS = 9_000;
const CONCURRENCY = 48;

/**
 * Section 3: three instances, and one of them misbehaves: it is killed under load, it keeps failing until
 * its circuit breaker opens, or it shuts down gracefully under load. Callers notice none of it.
 */
export async function resilience(registryUrl: string): Promise<void> {
  heading('3. Resilience');
  await killUnderLoad(registryUrl);
  await breakerTrips(registryUrl);
  await gracefulShutdown(registryUrl);
}

/** Counts the retries a policy allows (for the output). */
function counted(policy: RetryPolicy): { policy: RetryPolicy; retries: () => number } {
  let retries = 0;
  return {
    policy: {
      onCall: () => policy.onCall(),
      nextDelay: (attempt) => {
        const delay = policy.nextDelay(attempt);
        if (delay >= 0) retries++;
        return delay;
      },
    },
    retries: () => retries,
  };
}

function tally(served: Map<string, number>, from: string): void {
  served.set(from, (served.get(from) ?? 0) + 1);
}

function spread(served: Map<string, number>): string {
  return ['a', 'b', 'c'].map((n) => `${n} ${served.get(n) ?? 0}`).join(', ');
}

async function killUnderLoad(registryUrl: string): Promise<void> {
  say('[kill] instance c runs in its own process; SIGKILL it a third of the way through the load');
  const { registry } = openRegistry(registryUrl);
  const local = await startGreeters(registry, ['a', 'b']);
  const child = await startChildInstance('c').catch(async (err: unknown) => {
    await stopGreeters(local);
    await registry.close();
    throw err;
  });
  const c: ServiceInstance = {
    id: `Greeter@${child.host}:${child.port}`,
    name: 'Greeter',
    host: child.host,
    port: child.port,
    weight: 1,
    metadata: {},
  };
  const retry = counted(createRetryPolicy({ maxRetries: 3 }));
  // c was registered by this process, without the metadata a server publishes itself, so the client is
  // told here which methods are safe to retry.
  const client = createClient({
    registry,
    balancer: roundRobin(),
    retry: retry.policy,
    idempotent: ['Greeter.hello'],
    timeoutMs: 5_000,
  });
  try {
    await registry.register(c);
    const greeter = client.service<Greeter>('Greeter');
    const served = new Map<string, number>();
    let killed: Promise<void> | undefined;
    const result = await runLoad(
      async (i) => tally(served, (await greeter.hello({ name: `caller ${i}` })).from),
      {
        total: CALLS,
        concurrency: CONCURRENCY,
        onSettled: (done) => {
          if (done === CALLS / 3) killed = child.kill('SIGKILL');
        },
      },
    );
    await killed;
    say(
      `    killed c (pid ${child.process.pid}) after ${CALLS / 3} calls; the registry still lists it, ` +
        'as etcd would until its lease expires',
    );
    say(
      `    Greeter.hello is idempotent and the client has a retry policy: ${retry.retries()} retries went to a and b`,
    );
    say(
      `    ${result.ok + result.failed} calls, failed = ${result.failed}, served: ${spread(served)} (${seconds(result.elapsedMs)})`,
    );
  } finally {
    await client.close();
    await child.kill('SIGKILL');
    await registry.deregister(c);
    await stopGreeters(local);
    await registry.close();
  }
}

async function breakerTrips(registryUrl: string): Promise<void> {
  say('[breaker] instance c starts failing every call (Unavailable); later it recovers');
  const failing = new Set<string>();
  const failures = new Map<string, number>();
  const chaos = (name: string): ServerMiddleware[] => [
    async (_ctx, next) => {
      if (!failing.has(name)) return next();
      failures.set(name, (failures.get(name) ?? 0) + 1);
      throw new RpcError(Code.Unavailable, `instance ${name} is failing`);
    },
  ];
  const { registry } = openRegistry(registryUrl);
  const instances = await startGreeters(registry, ['a', 'b', 'c'], { middleware: chaos });
  const nameOf = (id: string): string => instances.find((i) => i.id === id)?.name ?? id;
  const t0 = performance.now();
  const breakers = createBreakerGroup({
    consecutiveFailures: 5,
    coolDownMs: 300,
    halfOpenMaxProbes: 3,
    sweepMs: 20,
    onStateChange: (id, from, to) =>
      say(
        `    +${String(Math.round(performance.now() - t0)).padStart(4)} ms  breaker of ${nameOf(id)}: ${from} -> ${to}`,
      ),
  });
  const client = createClient({
    registry,
    balancer: roundRobin(),
    breakers,
    // No `idempotent` option here: the servers publish their @method({ idempotent: true }) methods in the
    // registry, and the client reads them from there.
    retry: createRetryPolicy({ maxRetries: 2 }),
    timeoutMs: 5_000,
  });
  const c = instances[2] as GreeterInstance;
  try {
    const greeter = client.service<Greeter>('Greeter');
    const phase = async (label: string, total: number): Promise<void> => {
      const served = new Map<string, number>();
      const result = await runLoad(
        async (i) => tally(served, (await greeter.hello({ name: `caller ${i}` })).from),
        { total, concurrency: 8 },
      );
      say(
        `    ${label}: ${result.ok + result.failed} calls, failed = ${result.failed}, served: ${spread(served)}`,
      );
    };
    failing.add('c');
    // Short, so that it ends well within the cool-down: the next thing to see is c's recovery.
    await phase('while c fails', 300);
    say(
      `    c refused ${failures.get('c') ?? 0} calls before its breaker opened; hello is idempotent (the servers say so in the registry),`,
    );
    say('    so the client retried those calls on a and b');
    failing.delete('c');
    say('    c recovers; after the cool-down the breaker lets a few probe calls through');
    await waitUntil(() => breakers.get(c.id)?.state === 'half-open', 5_000);
    await phase('after recovery', 1_500);
    say(`    breaker of c is ${breakers.get(c.id)?.state ?? 'unknown'}: c is back in the rotation`);
  } finally {
    await client.close();
    breakers.close();
    await stopGreeters(instances);
    await registry.close();
  }
}

async function gracefulShutdown(registryUrl: string): Promise<void> {
  say(
    '[graceful] instance c shuts down (deregister -> GoAway -> finish calls in flight) a third of the way through',
  );
  const { registry } = openRegistry(registryUrl);
  const instances = await startGreeters(registry, ['a', 'b', 'c']);
  // No retry policy, and slowHello is not idempotent: only calls the server never ran may move.
  const client = createClient({ registry, balancer: roundRobin(), timeoutMs: 5_000 });
  const c = instances[2] as GreeterInstance;
  try {
    const greeter = client.service<Greeter>('Greeter');
    const served = new Map<string, number>();
    let closed: Promise<number> | undefined;
    let inFlight = 0;
    const result = await runLoad(
      async (i) => tally(served, (await greeter.slowHello({ name: `caller ${i}`, ms: 5 })).from),
      {
        total: CALLS,
        concurrency: CONCURRENCY,
        onSettled: (done) => {
          // A third of the way through, at a moment when c has calls running.
          if (closed !== undefined || done < CALLS / 3 || c.server.inFlight === 0) return;
          const t = performance.now();
          inFlight = c.server.inFlight;
          closed = c.server.close({ graceMs: 3_000 }).then(() => performance.now() - t);
        },
      },
    );
    const closeMs = (await closed) ?? Number.NaN;
    say(
      `    c had ${inFlight} calls running when close() began; it finished them and closed in ${Math.round(closeMs)} ms`,
    );
    say(
      '    slowHello (5 ms) is not idempotent and the client has no retry policy: only calls c never ran moved',
    );
    say(
      `    ${result.ok + result.failed} calls, failed = ${result.failed}, served: ${spread(served)} (${seconds(result.elapsedMs)})`,
    );
  } finally {
    await client.close();
    await stopGreeters(instances);
    await registry.close();
  }
}
