import type { BreakerState } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';
import { describe, expect, it } from 'vitest';
import { captureWarnings } from '../test/warnings.js';
import { type CircuitBreakerOptions, createCircuitBreaker } from './index.js';

function setup(options: CircuitBreakerOptions = {}) {
  const clock = { t: 1_000_000 };
  const changes: string[] = [];
  const breaker = createCircuitBreaker({
    now: () => clock.t,
    onStateChange: (from, to) => changes.push(`${from}->${to}`),
    ...options,
  });
  const fail = (code: Code = Code.Unavailable): void => {
    expect(breaker.allowRequest()).toBe(true);
    breaker.recordFailure(code);
  };
  const succeed = (): void => {
    expect(breaker.allowRequest()).toBe(true);
    breaker.recordSuccess();
  };
  return { clock, changes, breaker, fail, succeed };
}

describe('createCircuitBreaker: closed', () => {
  it('starts closed and lets every call through', () => {
    const { breaker } = setup();
    expect(breaker.state).toBe('closed');
    for (let i = 0; i < 100; i++) expect(breaker.allowRequest()).toBe(true);
  });

  it('opens after consecutiveFailures failures in a row (default 5)', () => {
    const { breaker, fail, changes } = setup();
    for (let i = 0; i < 4; i++) fail();
    expect(breaker.state).toBe('closed');
    fail();
    expect(breaker.state).toBe('open');
    expect(changes).toEqual(['closed->open']);
    expect(breaker.allowRequest()).toBe(false);
  });

  it('a success resets the run of failures', () => {
    const { breaker, fail, succeed } = setup({ minimumCalls: Number.POSITIVE_INFINITY });
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 4; i++) fail();
      succeed();
    }
    expect(breaker.state).toBe('closed');
  });

  it('opens on the failure rate once the window holds minimumCalls calls', () => {
    const { breaker, fail, succeed, changes } = setup({ consecutiveFailures: 1000, minimumCalls: 20 });
    // Alternate: a 50 % failure rate that never makes 5 in a row. 19 calls: under the minimum volume.
    for (let i = 0; i < 19; i++) (i % 2 === 0 ? fail : succeed)();
    expect(breaker.stats()).toMatchObject({ windowCalls: 19, windowFailures: 10 });
    expect(breaker.state).toBe('closed');
    fail(); // 20 calls, 11 failures: 55 % ≥ 50 %
    expect(breaker.state).toBe('open');
    expect(changes).toEqual(['closed->open']);
  });

  it('stays closed under the rate threshold whatever the volume', () => {
    const { breaker, fail, succeed } = setup({ consecutiveFailures: 1000 });
    for (let i = 0; i < 1000; i++) (i % 3 === 0 ? fail : succeed)(); // 33 %
    expect(breaker.state).toBe('closed');
  });

  it('forgets calls older than the rolling window, bucket by bucket', () => {
    const { clock, breaker, fail, succeed } = setup({
      consecutiveFailures: 1000,
      minimumCalls: 20,
      windowMs: 10_000,
      windowBuckets: 10,
    });
    for (let i = 0; i < 15; i++) fail(); // 15 failures at t0
    clock.t += 5_000;
    for (let i = 0; i < 4; i++) succeed(); // 19 calls in the window
    clock.t += 5_000; // the t0 bucket leaves the window
    expect(breaker.stats()).toMatchObject({ windowCalls: 4, windowFailures: 0 });
    fail(); // 5 calls, 1 failure: under the minimum volume
    expect(breaker.state).toBe('closed');
    clock.t += 60_000; // everything leaves
    expect(breaker.stats()).toMatchObject({ windowCalls: 0, windowFailures: 0 });
  });

  it('never counts caller errors', () => {
    const { breaker, fail } = setup({ consecutiveFailures: 2, minimumCalls: 1 });
    const callerCodes = [
      Code.InvalidArgument,
      Code.NotFound,
      Code.Unauthenticated,
      Code.PermissionDenied,
      Code.FailedPrecondition,
      Code.Cancelled,
    ];
    for (let i = 0; i < 100; i++) fail(callerCodes[i % callerCodes.length]);
    expect(breaker.state).toBe('closed');
    expect(breaker.stats()).toMatchObject({ consecutiveFailures: 0, windowCalls: 0 });
  });
});

describe('createCircuitBreaker: open and half-open', () => {
  function tripped(options: CircuitBreakerOptions = {}) {
    const s = setup({ coolDownMs: 5_000, ...options });
    for (let i = 0; i < 5; i++) s.fail();
    expect(s.breaker.state).toBe('open');
    return s;
  }

  it('refuses calls until the cool-down has passed, then goes half-open', () => {
    const { clock, breaker, changes } = tripped();
    clock.t += 4_999;
    expect(breaker.allowRequest()).toBe(false);
    expect(breaker.state).toBe('open');
    clock.t += 1;
    expect(breaker.state).toBe('half-open');
    expect(changes).toEqual(['closed->open', 'open->half-open']);
  });

  it('admits at most halfOpenMaxProbes probes at once', () => {
    const { clock, breaker } = tripped({ halfOpenMaxProbes: 2 });
    clock.t += 5_000;
    expect(breaker.allowRequest()).toBe(true);
    expect(breaker.allowRequest()).toBe(true);
    expect(breaker.allowRequest()).toBe(false);
    expect(breaker.stats().probesInFlight).toBe(2);
  });

  it('closes after successesToClose successful probes (default: halfOpenMaxProbes = 3)', () => {
    const { clock, breaker, changes } = tripped();
    clock.t += 5_000;
    for (let i = 0; i < 3; i++) expect(breaker.allowRequest()).toBe(true);
    breaker.recordSuccess();
    breaker.recordSuccess();
    expect(breaker.state).toBe('half-open');
    breaker.recordSuccess();
    expect(breaker.state).toBe('closed');
    expect(changes).toEqual(['closed->open', 'open->half-open', 'half-open->closed']);
    expect(breaker.stats()).toMatchObject({ consecutiveFailures: 0, windowCalls: 0, probesInFlight: 0 });
  });

  it('needs more successes than probe slots when successesToClose says so; a finished probe frees its slot', () => {
    const { clock, breaker } = tripped({ halfOpenMaxProbes: 1, successesToClose: 3 });
    clock.t += 5_000;
    for (let i = 0; i < 2; i++) {
      expect(breaker.allowRequest()).toBe(true);
      expect(breaker.allowRequest()).toBe(false);
      breaker.recordSuccess();
      expect(breaker.state).toBe('half-open');
    }
    expect(breaker.allowRequest()).toBe(true);
    breaker.recordSuccess();
    expect(breaker.state).toBe('closed');
  });

  it('reopens on one failed probe, ignoring the late results of the other probes', () => {
    const { clock, breaker, changes } = tripped();
    clock.t += 5_000;
    for (let i = 0; i < 3; i++) expect(breaker.allowRequest()).toBe(true);
    breaker.recordSuccess();
    breaker.recordFailure(Code.Unavailable);
    expect(breaker.state).toBe('open');
    breaker.recordSuccess(); // the third probe comes back after the trip
    expect(breaker.state).toBe('open');
    expect(changes).toEqual(['closed->open', 'open->half-open', 'half-open->open']);
  });

  it('grows the cool-down on each trip without closing, up to maxCoolDownMs, and resets it on close', () => {
    const { clock, breaker } = tripped({ coolDownMs: 1_000, coolDownFactor: 2, maxCoolDownMs: 5_000 });
    const coolDowns: number[] = [];
    for (let trip = 0; trip < 5; trip++) {
      const openedAt = clock.t;
      coolDowns.push(breaker.stats().openUntil - openedAt);
      clock.t = breaker.stats().openUntil - 1;
      expect(breaker.state).toBe('open');
      clock.t += 1;
      expect(breaker.allowRequest()).toBe(true);
      breaker.recordFailure(Code.Internal);
    }
    expect(coolDowns).toEqual([1_000, 2_000, 4_000, 5_000, 5_000]);
    // Recover, then trip again: back to the base cool-down.
    clock.t = breaker.stats().openUntil;
    for (let i = 0; i < 3; i++) expect(breaker.allowRequest()).toBe(true);
    for (let i = 0; i < 3; i++) breaker.recordSuccess();
    expect(breaker.state).toBe('closed');
    for (let i = 0; i < 5; i++) {
      breaker.allowRequest();
      breaker.recordFailure(Code.Unavailable);
    }
    expect(breaker.stats().openUntil - clock.t).toBe(1_000);
    expect(breaker.stats().trips).toBe(7); // 1 + 5 in the loop + 1
  });

  it('keeps a fixed cool-down with coolDownFactor 1', () => {
    const { clock, breaker } = tripped({ coolDownMs: 1_000, coolDownFactor: 1 });
    for (let trip = 0; trip < 3; trip++) {
      expect(breaker.stats().openUntil - clock.t).toBe(1_000);
      clock.t += 1_000;
      breaker.allowRequest();
      breaker.recordFailure(Code.Unavailable);
    }
  });

  it('a caller error in half-open frees the probe slot without counting', () => {
    const { clock, breaker } = tripped({ halfOpenMaxProbes: 1 });
    clock.t += 5_000;
    expect(breaker.allowRequest()).toBe(true);
    expect(breaker.allowRequest()).toBe(false);
    breaker.recordFailure(Code.InvalidArgument);
    expect(breaker.state).toBe('half-open');
    expect(breaker.allowRequest()).toBe(true);
    breaker.recordSuccess();
    expect(breaker.state).toBe('closed');
  });
});

describe('createCircuitBreaker: execute', () => {
  it('records outcomes and refuses with Unavailable without calling fn when open', async () => {
    const { breaker } = setup({ consecutiveFailures: 2 });
    await expect(breaker.execute(async () => 'ok')).resolves.toBe('ok');
    const boom = new RpcError(Code.Unavailable, 'down');
    await expect(breaker.execute(() => Promise.reject(boom))).rejects.toBe(boom);
    await expect(breaker.execute(() => Promise.reject(new Error('plain')))).rejects.toThrow('plain');
    expect(breaker.state).toBe('open');
    let called = false;
    const refused = await breaker
      .execute(async () => {
        called = true;
      })
      .catch((e: unknown) => e);
    expect(called).toBe(false);
    expect(refused).toBeInstanceOf(RpcError);
    expect((refused as RpcError).code).toBe(Code.Unavailable);
  });

  it('in half-open only the admitted probes run, however many calls arrive at once', async () => {
    const { clock, breaker } = setup({ consecutiveFailures: 1, halfOpenMaxProbes: 2, coolDownMs: 100 });
    breaker.allowRequest();
    breaker.recordFailure(Code.Unavailable);
    clock.t += 100;
    let running = 0;
    let ran = 0;
    const gates: Array<() => void> = [];
    const fn = () =>
      new Promise<string>((resolve) => {
        running++;
        ran++;
        gates.push(() => {
          running--;
          resolve('ok');
        });
      });
    const calls = Array.from({ length: 10 }, () =>
      breaker.execute(fn).then(
        () => 'ran',
        () => 'refused',
      ),
    );
    expect(running).toBe(2);
    for (const open of gates) open();
    const outcomes = await Promise.all(calls);
    expect(outcomes.filter((o) => o === 'ran')).toHaveLength(2);
    expect(outcomes.filter((o) => o === 'refused')).toHaveLength(8);
    expect(ran).toBe(2);
    expect(breaker.state).toBe('closed');
  });
});

describe('createCircuitBreaker: listeners and options', () => {
  it('on() adds a listener and returns its remover', () => {
    const { breaker, fail, clock } = setup({ consecutiveFailures: 1, coolDownMs: 10 });
    const seen: Array<[BreakerState, BreakerState]> = [];
    const off = breaker.on('stateChange', (from, to) => seen.push([from, to]));
    fail();
    expect(seen).toEqual([['closed', 'open']]);
    off();
    clock.t += 10;
    expect(breaker.state).toBe('half-open');
    expect(seen).toHaveLength(1);
  });

  it('a throwing listener reaches neither the caller nor the other listeners; onListenerError gets it', async () => {
    const reported: unknown[] = [];
    const bug = new Error('listener bug');
    const { breaker, fail, clock, changes } = setup({
      consecutiveFailures: 1,
      coolDownMs: 10,
      onListenerError: (error) => reported.push(error),
    });
    breaker.on('stateChange', () => {
      throw bug;
    });
    const after: string[] = [];
    breaker.on('stateChange', (from, to) => after.push(`${from}->${to}`));
    const warnings = await captureWarnings(() => {
      expect(() => fail()).not.toThrow();
      expect(breaker.state).toBe('open');
      clock.t += 10;
      expect(() => breaker.allowRequest()).not.toThrow();
      expect(breaker.state).toBe('half-open');
    });
    expect(changes).toEqual(['closed->open', 'open->half-open']);
    expect(after).toEqual(['closed->open', 'open->half-open']);
    expect(reported).toEqual([bug, bug]);
    expect(warnings).toEqual([]);
  });

  it('without onListenerError a listener error becomes a process warning, with the error as its cause', async () => {
    const bug = new Error('listener bug');
    const { breaker, fail } = setup({ consecutiveFailures: 1 });
    breaker.on('stateChange', () => {
      throw bug;
    });
    const warnings = await captureWarnings(() => {
      expect(() => fail()).not.toThrow();
    });
    expect(breaker.state).toBe('open');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.name).toBe('MiniRpcListenerWarning');
    expect(warnings[0]!.message).toBe('mini-rpc resilience: a stateChange listener threw: listener bug');
    expect(warnings[0]!.cause).toBe(bug);
  });

  it('what a throwing onListenerError throws becomes a process warning too, never the caller error', async () => {
    const reporterBug = new Error('reporter bug');
    const { breaker, fail } = setup({
      consecutiveFailures: 1,
      onListenerError: () => {
        throw reporterBug;
      },
    });
    breaker.on('stateChange', () => {
      throw new Error('listener bug');
    });
    const warnings = await captureWarnings(() => {
      expect(() => fail()).not.toThrow();
    });
    expect(breaker.state).toBe('open');
    expect(warnings.map((w) => [w.name, w.message, w.cause])).toEqual([
      ['MiniRpcListenerWarning', 'mini-rpc resilience: onListenerError threw: reporter bug', reporterBug],
    ]);
  });

  it('a listener that throws a non-Error still gets a readable warning', async () => {
    const { breaker, fail } = setup({ consecutiveFailures: 1 });
    breaker.on('stateChange', () => {
      throw 'a string';
    });
    const warnings = await captureWarnings(() => fail());
    expect(warnings.map((w) => [w.message, w.cause])).toEqual([
      ['mini-rpc resilience: a stateChange listener threw: a string', 'a string'],
    ]);
  });

  it('rejects bad options with InvalidArgument', () => {
    const bad: CircuitBreakerOptions[] = [
      { consecutiveFailures: 0 },
      { failureRateThreshold: 0 },
      { failureRateThreshold: 1.5 },
      { minimumCalls: 0.5 },
      { windowMs: 0 },
      { windowBuckets: 0 },
      { coolDownMs: -1 },
      { coolDownFactor: 0.5 },
      { coolDownMs: 10_000, maxCoolDownMs: 5_000 },
      { halfOpenMaxProbes: 0 },
      { successesToClose: 0 },
    ];
    for (const options of bad) {
      expect(() => createCircuitBreaker(options), JSON.stringify(options)).toThrow(
        expect.objectContaining({ code: Code.InvalidArgument }),
      );
    }
  });
});
