import type { BreakerFactory } from '@mini-rpc/protocol';
import { Code } from '@mini-rpc/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { captureWarnings } from '../test/warnings.js';
import { createBreakerGroup } from './index.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function trip(factory: BreakerFactory, id: string, failures = 5): void {
  const breaker = factory(id);
  for (let i = 0; i < failures; i++) {
    breaker.allowRequest();
    breaker.recordFailure(Code.Unavailable);
  }
}

describe('createBreakerGroup', () => {
  it('is a BreakerFactory that makes one breaker per instance id and caches it', () => {
    const group = createBreakerGroup();
    const factory: BreakerFactory = group;
    expect(factory('a')).toBe(factory('a'));
    expect(factory('a')).not.toBe(factory('b'));
    expect(group.size).toBe(2);
    expect(group.get('a')).toBe(factory('a'));
    expect(group.get('zzz')).toBeUndefined();
    expect(group.delete('a')).toBe(true);
    expect(group.get('a')).toBeUndefined();
    expect(group.size).toBe(1);
  });

  it('breakers are independent and share the group options', () => {
    const group = createBreakerGroup({ consecutiveFailures: 2 });
    trip(group, 'a', 2);
    expect(group('a').state).toBe('open');
    expect(group('b').state).toBe('closed');
    expect(group.states()).toEqual(
      new Map([
        ['a', 'open'],
        ['b', 'closed'],
      ]),
    );
  });

  it('reports every state change with its instance id', () => {
    const seen: string[] = [];
    const group = createBreakerGroup({
      coolDownMs: 1_000,
      onStateChange: (id, from, to) => seen.push(`${id}:${from}->${to}`),
    });
    const off = group.on('stateChange', (id, _from, to) => seen.push(`extra ${id} ${to}`));
    trip(group, 'x');
    off();
    vi.advanceTimersByTime(1_000);
    expect(group.states().get('x')).toBe('half-open');
    expect(seen).toEqual(['x:closed->open', 'extra x open', 'x:open->half-open']);
  });

  it('1000 breakers, all tripped and cooling down, create no timer at all', () => {
    const group = createBreakerGroup({ coolDownMs: 5_000 });
    for (let i = 0; i < 1000; i++) trip(group, `instance-${i}`);
    expect(vi.getTimerCount()).toBe(0);
    expect([...group.states().values()].every((s) => s === 'open')).toBe(true);
    vi.advanceTimersByTime(5_000);
    expect([...group.states().values()].every((s) => s === 'half-open')).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('with sweepMs, 1000 open breakers share one timer that fires their half-open events on time', () => {
    const events: string[] = [];
    const group = createBreakerGroup({
      coolDownMs: 5_000,
      sweepMs: 500,
      onStateChange: (id, _from, to) => {
        if (to === 'half-open') events.push(id);
      },
    });
    for (let i = 0; i < 1000; i++) trip(group, `instance-${i}`);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(4_999);
    expect(events).toHaveLength(0);
    vi.advanceTimersByTime(500);
    expect(events).toHaveLength(1000);
    // No breaker is open any more: the next sweep stops the timer.
    vi.advanceTimersByTime(500);
    expect(vi.getTimerCount()).toBe(0);
    // A new trip starts it again; close() stops it.
    trip(group, 'instance-0', 1);
    expect(group('instance-0').state).toBe('open');
    expect(vi.getTimerCount()).toBe(1);
    group.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a throwing listener stops neither the other listeners nor the sweep interval', async () => {
    const reported: unknown[] = [];
    const seen: string[] = [];
    const group = createBreakerGroup({
      coolDownMs: 50,
      sweepMs: 20,
      onStateChange: (id, from, to) => {
        if (to === 'half-open') throw new Error(`metrics listener bug (${id} ${from}->${to})`);
      },
      onListenerError: (error) => reported.push((error as Error).message),
    });
    group.on('stateChange', (id, from, to) => seen.push(`${id}:${from}->${to}`));
    trip(group, 'i1', 5);
    expect(vi.getTimerCount()).toBe(1);
    // The sweep makes the change, so the listener throws inside the interval's callback.
    const warnings = await captureWarnings(() => {
      expect(() => vi.advanceTimersByTime(100)).not.toThrow();
    });
    expect(seen).toEqual(['i1:closed->open', 'i1:open->half-open']);
    expect(reported).toEqual(['metrics listener bug (i1 open->half-open)']);
    expect(warnings).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a throwing listener does not reach the caller of recordFailure; without onListenerError it is a warning', async () => {
    const seen: string[] = [];
    const bug = new Error('listener bug');
    const group = createBreakerGroup({ consecutiveFailures: 1 });
    group.on('stateChange', () => {
      throw bug;
    });
    group.on('stateChange', (id, _from, to) => seen.push(`${id} ${to}`));
    const warnings = await captureWarnings(() => {
      expect(() => trip(group, 'a', 1)).not.toThrow();
    });
    expect(group('a').state).toBe('open');
    expect(seen).toEqual(['a open']);
    expect(warnings.map((w) => [w.name, w.message, w.cause])).toEqual([
      ['MiniRpcListenerWarning', 'mini-rpc resilience: a stateChange listener threw: listener bug', bug],
    ]);
  });

  it('a listener throwing in the sweep interval without onListenerError is a warning, not a crash', async () => {
    const group = createBreakerGroup({
      coolDownMs: 50,
      sweepMs: 20,
      onStateChange: (_id, _from, to) => {
        if (to === 'half-open') throw new Error('metrics listener bug');
      },
    });
    trip(group, 'i1', 5);
    const warnings = await captureWarnings(() => {
      expect(() => vi.advanceTimersByTime(100)).not.toThrow();
    });
    expect(group.states().get('i1')).toBe('half-open');
    expect(warnings.map((w) => w.message)).toEqual([
      'mini-rpc resilience: a stateChange listener threw: metrics listener bug',
    ]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('uses the default Date.now clock, which fake timers drive', () => {
    const group = createBreakerGroup({ coolDownMs: 2_000 });
    trip(group, 'a');
    vi.advanceTimersByTime(1_999);
    expect(group('a').allowRequest()).toBe(false);
    vi.advanceTimersByTime(1);
    expect(group('a').allowRequest()).toBe(true);
  });

  it('forgets the breakers of instances that left, but never an open, probing, busy or watched one', () => {
    const group = createBreakerGroup({ consecutiveFailures: 1, coolDownMs: 1_000, maxCoolDownMs: 5_000 });
    const watched = group('watched');
    watched.on('stateChange', () => {});
    const busy = group('busy');
    const probing = group('probing');
    trip(group, 'probing', 1);
    vi.advanceTimersByTime(1_000);
    expect(probing.allowRequest()).toBe(true); // a probe that has not come back
    let largest = 0;
    // 20 deploys, each with 500 new instance ids used for 20 s (50 of them failing), then gone.
    for (let deploy = 0; deploy < 20; deploy++) {
      trip(group, 'down', 1); // open across every look of the group
      busy.recordSuccess();
      for (let i = 0; i < 500; i++) {
        const breaker = group(`d${deploy}-${i}`);
        breaker.allowRequest();
        if (i < 50) breaker.recordFailure(Code.Unavailable);
        else breaker.recordSuccess();
        largest = Math.max(largest, group.size);
      }
      vi.advanceTimersByTime(20_000);
    }
    expect(largest).toBeLessThanOrEqual(1_025); // 10,000 ids seen; it held all of them before
    for (const [id, breaker] of [
      ['watched', watched],
      ['busy', busy],
      ['probing', probing],
    ] as const) {
      expect([id, group.get(id)]).toEqual([id, breaker]);
    }
    expect(group.get('down')).toBeDefined();
    expect(group.get('d19-499')).toBeDefined(); // the last deploy's are less than a window old
  });

  it('never forgets a breaker younger than a window, so many live instances are not made again and again', () => {
    const group = createBreakerGroup();
    const first = Array.from({ length: 3_000 }, (_, i) => group(`i-${i}`));
    expect(group.size).toBe(3_000);
    vi.advanceTimersByTime(9_999);
    for (let i = 0; i < 3_000; i++) expect(group(`i-${i}`)).toBe(first[i]);
    group('one-more');
    expect(group.size).toBe(3_001);
  });

  it('sweepMs: Infinity starts no timer, and a period past 2^31-1 ms is cut to that (both were 1 ms)', () => {
    const never = createBreakerGroup({ sweepMs: Number.POSITIVE_INFINITY, coolDownMs: 10 });
    trip(never, 'a');
    expect(vi.getTimerCount()).toBe(0);
    const events: string[] = [];
    const rare = createBreakerGroup({
      sweepMs: 2 ** 32,
      coolDownMs: 10,
      onStateChange: (id, _from, to) => events.push(`${id} ${to}`),
    });
    trip(rare, 'b');
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(1_000);
    expect(events).toEqual(['b open']); // a 1 ms interval would have swept it half-open by now
    vi.advanceTimersByTime(2 ** 31 - 1 - 1_000);
    expect(events).toEqual(['b open', 'b half-open']);
    rare.close();
  });

  it('close() is for good: a trip after it starts no sweep timer', () => {
    const group = createBreakerGroup({ sweepMs: 100, coolDownMs: 1_000 });
    trip(group, 'a');
    expect(vi.getTimerCount()).toBe(1);
    group.close();
    expect(vi.getTimerCount()).toBe(0);
    trip(group, 'b');
    expect(group('b').state).toBe('open');
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1_000);
    expect(group('b').state).toBe('half-open'); // the breakers keep working, looked at
  });

  it('rejects bad options with InvalidArgument', () => {
    expect(() => createBreakerGroup({ sweepMs: -1 })).toThrow(
      expect.objectContaining({ code: Code.InvalidArgument }),
    );
    expect(() => createBreakerGroup({ halfOpenMaxProbes: 0 })).toThrow(
      expect.objectContaining({ code: Code.InvalidArgument }),
    );
  });
});
