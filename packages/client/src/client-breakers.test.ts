import type { Balancer, Breaker, BreakerState, RetryPolicy, ServiceInstance } from '@mini-rpc/protocol';
import { Code } from '@mini-rpc/protocol';
import { describe, expect, it } from 'vitest';
import { useCleanups, waitFor } from '../../../tooling/testing/harness.js';
import { echoServer } from '../test/echo-server.js';
import { manualRegistry } from '../test/manual-registry.js';
import { clientMaker, failure, processWarnings } from '../test/support.js';
import { isUnprocessed } from './unprocessed.js';

const cleanups = useCleanups();

const client = clientMaker(cleanups);

/** One attempt per call: the policy is asked once and gives up. */
const noRetry = (): RetryPolicy & { asked: number } => {
  const policy = {
    asked: 0,
    onCall: () => {},
    nextDelay: () => {
      policy.asked++;
      return -1;
    },
  };
  return policy;
};

/** A round-robin balancer that records every list it is given to pick from. */
function recordingBalancer(): Balancer & { lists: (readonly ServiceInstance[])[] } {
  let next = 0;
  const lists: (readonly ServiceInstance[])[] = [];
  return {
    name: 'recording',
    lists,
    pick(instances) {
      lists.push(instances);
      return instances[next++ % instances.length] as ServiceInstance;
    },
  };
}

/** Breakers that admit only the ids in `admit`, counting their `allowRequest()` calls per id. */
function refusingBreakers(admit: ReadonlySet<string> = new Set()) {
  const asked = new Map<string, number>();
  const factory = (id: string): Breaker => ({
    // Half-open with every probe slot taken: `state` lets the pick look at it, `allowRequest()` refuses.
    state: admit.has(id) ? 'closed' : 'half-open',
    allowRequest: () => {
      asked.set(id, (asked.get(id) ?? 0) + 1);
      return admit.has(id);
    },
    recordSuccess: () => {},
    recordFailure: () => {},
  });
  return { factory, asked };
}

const ids = (n: number, prefix = 'i'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('picking an instance whose breaker admits the call', () => {
  it('with 1,000 instances all refusing, asks each breaker once and the balancer a bounded number of times (linear, not quadratic); Unavailable, not run', async () => {
    const server = await echoServer(cleanups);
    const { registry, deliver } = manualRegistry();
    const balancer = recordingBalancer();
    const breakers = refusingBreakers();
    const retry = noRetry();
    const c = client({ registry, balancer, breakers: breakers.factory, retry });
    const call = failure(c.call('S', 'echo', 1));
    deliver(ids(1_000).map((id) => server.instance(id)));
    const err = await call;
    expect([err.code, err.rawMessage]).toEqual([
      Code.Unavailable,
      'S: every instance is refusing calls (circuit open)',
    ]);
    expect(isUnprocessed(err)).toBe(true);
    expect(retry.asked).toBe(1); // one attempt; not run, so the policy was asked even for a plain call
    expect(breakers.asked.size).toBe(1_000);
    expect(Math.max(...breakers.asked.values())).toBe(1);
    // The old loop asked the balancer 1,000 times, on lists of 1,000, 999, … 1 (500,500 entries).
    expect(balancer.lists.length).toBeLessThanOrEqual(3);
    expect(balancer.lists.reduce((sum, l) => sum + l.length, 0)).toBeLessThanOrEqual(3 * 1_000);
    expect(server.sockets).toBe(0);
  });

  it('with 1,000 instances and one admitting, the call goes to that one, each breaker asked at most once', async () => {
    const server = await echoServer(cleanups);
    const { registry, deliver } = manualRegistry();
    const balancer = recordingBalancer();
    const breakers = refusingBreakers(new Set(['i500']));
    const c = client({ registry, balancer, breakers: breakers.factory, retry: noRetry() });
    const call = c.call('S', 'echo', 7);
    deliver(ids(1_000).map((id) => server.instance(id)));
    expect(await call).toBe(7);
    expect(server.requests).toHaveLength(1);
    expect(Math.max(...breakers.asked.values())).toBe(1);
    expect(breakers.asked.get('i500')).toBe(1);
    expect(balancer.lists.length).toBeLessThanOrEqual(3);
  });

  it('the balancer picks among the full list once when its choice admits (common case), and again among the rest after a refusal', async () => {
    const server = await echoServer(cleanups);
    const { registry, deliver } = manualRegistry();
    const balancer = recordingBalancer();
    const breakers = refusingBreakers(new Set(['i1', 'i2']));
    const c = client({ registry, balancer, breakers: breakers.factory });
    // Round robin's first pick, i0, refuses; its second, among [i1, i2], is i2.
    const first = c.call('S', 'echo', 1);
    deliver(ids(3).map((id) => server.instance(id)));
    expect(await first).toBe(1);
    expect(await c.call('S', 'echo', 2)).toBe(2); // its third pick, i2, admits at once
    expect(balancer.lists.map((l) => l.map((i) => i.id))).toEqual([
      ['i0', 'i1', 'i2'],
      ['i1', 'i2'],
      ['i0', 'i1', 'i2'],
    ]);
    expect(Object.fromEntries(breakers.asked)).toEqual({ i0: 1, i2: 2 });
    expect(server.requests).toHaveLength(2);
  });

  it('after three refused picks, the rest are tried in list order from the last refused one (wrapping), so the balancer still spreads the calls', async () => {
    const server = await echoServer(cleanups);
    const { registry, deliver } = manualRegistry();
    const order = ['i0', 'i4', 'i5'];
    const picked: string[] = [];
    const balancer: Balancer = {
      name: 'scripted',
      pick(instances) {
        const want = order[picked.length];
        const choice = instances.find((i) => i.id === want) ?? (instances[0] as ServiceInstance);
        picked.push(choice.id);
        return choice;
      },
    };
    // Only i2 admits, before i5 in list order: the walk goes on from i6, wraps, and skips i0 (refused).
    const breakers = refusingBreakers(new Set(['i2']));
    const c = client({ registry, balancer, breakers: breakers.factory, retry: noRetry() });
    const call = c.call('S', 'echo', 1);
    deliver(ids(10).map((id) => server.instance(id)));
    expect(await call).toBe(1);
    expect(picked).toEqual(['i0', 'i4', 'i5']);
    expect([...breakers.asked.keys()]).toEqual(['i0', 'i4', 'i5', 'i6', 'i7', 'i8', 'i9', 'i1', 'i2']);
    expect(Math.max(...breakers.asked.values())).toBe(1);
  });
});

/** A breaker whose state the test sets; `open` refuses. */
class TestBreaker implements Breaker {
  state: BreakerState = 'closed';
  allowRequest(): boolean {
    return this.state !== 'open';
  }
  recordSuccess(): void {}
  recordFailure(): void {}
}

/** A breaker group shaped like `createBreakerGroup()`'s: a factory with `get`, `delete` and `size`. */
function breakerGroup() {
  const breakers = new Map<string, TestBreaker>();
  const deleted: string[] = [];
  const group = Object.assign(
    (id: string): TestBreaker => {
      let b = breakers.get(id);
      if (b === undefined) {
        b = new TestBreaker();
        breakers.set(id, b);
      }
      return b;
    },
    {
      get: (id: string) => breakers.get(id),
      delete: (id: string) => {
        deleted.push(id);
        return breakers.delete(id);
      },
    },
  );
  return { group, breakers, deleted };
}

describe('breakers of instances that leave', () => {
  it('are deleted from a group with delete(): an id that comes back starts closed, and the group does not grow with churn', async () => {
    const a = await echoServer(cleanups);
    const b = await echoServer(cleanups);
    const { registry, deliver } = manualRegistry();
    const { group, breakers, deleted } = breakerGroup();
    const c = client({ registry, breakers: group });
    const first = c.call('S', 'echo', 0);
    deliver([a.instance('X'), b.instance('Y')]);
    await first;
    (group('X') as TestBreaker).state = 'open';
    deliver([b.instance('Y')]);
    expect(deleted).toEqual(['X']);
    expect(group.get('X')).toBeUndefined();
    // X is back (restarted, same id): a fresh, closed breaker, so it gets calls again.
    deliver([a.instance('X'), b.instance('Y')]);
    const before = a.requests.length;
    for (let i = 1; i <= 4; i++) expect(await c.call('S', 'echo', i)).toBe(i);
    expect(a.requests.length - before).toBe(2);
    // A deploy gives new ids each time: the breakers of the old ones go with them.
    for (let round = 0; round < 50; round++) {
      deliver([a.instance(`X${round}`), b.instance(`Y${round}`)]);
      expect(await c.call('S', 'echo', round)).toBe(round);
    }
    expect(breakers.size).toBeLessThanOrEqual(2);
  });

  it('are deleted when the instance moves (same id, new address): the new address starts closed', async () => {
    const a = await echoServer(cleanups);
    const b = await echoServer(cleanups);
    const { registry, deliver } = manualRegistry();
    const { group, deleted } = breakerGroup();
    const c = client({ registry, breakers: group });
    const first = c.call('S', 'echo', 0);
    deliver([a.instance('X')]);
    await first;
    (group('X') as TestBreaker).state = 'open';
    deliver([b.instance('X')]);
    expect(deleted).toEqual(['X']);
    expect(await c.call('S', 'echo', 1)).toBe(1);
    expect(b.requests).toHaveLength(1);
  });

  it('a delete() that throws becomes a process warning; the delivery goes on and calls still work', async () => {
    const a = await echoServer(cleanups);
    const b = await echoServer(cleanups);
    const seen = processWarnings(cleanups, 'MiniRpcListenerWarning');
    const { registry, deliver } = manualRegistry();
    const bug = new Error('delete bug');
    const breakers = Object.assign((_id: string): Breaker => new TestBreaker(), {
      delete: (): boolean => {
        throw bug;
      },
    });
    const c = client({ registry, breakers });
    const first = c.call('S', 'echo', 0);
    deliver([a.instance('X'), b.instance('Y')]);
    await first;
    deliver([b.instance('Y')]);
    // X's connection drains and closes all the same: the throw did not cut the delivery short.
    await waitFor(() => a.closed === 1, 2_000, "the connection to X's address to close");
    expect(await c.call('S', 'echo', 1)).toBe(1);
    await waitFor(() => seen.length === 1, 2_000, 'the warning');
    expect(seen[0]?.cause).toBe(bug);
  });

  it('a plain factory function (no delete) keeps working as instances come and go', async () => {
    const a = await echoServer(cleanups);
    const b = await echoServer(cleanups);
    const { registry, deliver } = manualRegistry();
    const made: string[] = [];
    const breakers = (id: string): Breaker => {
      made.push(id);
      return new TestBreaker();
    };
    const c = client({ registry, breakers });
    const first = c.call('S', 'echo', 0);
    deliver([a.instance('X'), b.instance('Y')]);
    await first;
    deliver([b.instance('Y')]);
    expect(await c.call('S', 'echo', 1)).toBe(1);
    deliver([a.instance('X')]);
    expect(await c.call('S', 'echo', 2)).toBe(2);
    expect(made).toContain('X');
  });
});
