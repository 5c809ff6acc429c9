import { Code, RpcError } from '@mini-rpc/protocol';
import { describe, expect, it } from 'vitest';
import { type CircuitBreakerOptions, createCircuitBreaker } from './index.js';

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A breaker with a hand-driven clock that trips on one failure and cools down in 1 s. */
function setup(options: CircuitBreakerOptions = {}) {
  const clock = { t: 0 };
  const changes: string[] = [];
  const breaker = createCircuitBreaker({
    consecutiveFailures: 1,
    coolDownMs: 1_000,
    now: () => clock.t,
    onStateChange: (from, to) => changes.push(`${from}->${to}`),
    ...options,
  });
  /** Admits a call and returns the generation to record its result with. */
  const admit = (): number => {
    expect(breaker.allowRequest()).toBe(true);
    return breaker.generation;
  };
  return { clock, changes, breaker, admit };
}

describe('createCircuitBreaker: generations (late results)', () => {
  it('the generation changes on every state change, and reading it applies a due cool-down', () => {
    const { clock, breaker, admit } = setup();
    const closed = breaker.generation;
    breaker.recordFailure(Code.Unavailable, admit());
    const open = breaker.generation;
    expect(open).not.toBe(closed);
    clock.t = 1_000;
    // No `state` read in between: the getter itself moves open → half-open.
    const halfOpen = breaker.generation;
    expect(halfOpen).not.toBe(open);
    expect(breaker.stats().state).toBe('half-open');
    breaker.recordSuccess(admit());
    breaker.recordSuccess(admit());
    breaker.recordSuccess(admit());
    expect(breaker.state).toBe('closed');
    expect(breaker.generation).not.toBe(halfOpen);
  });

  it('a success admitted while closed that lands in half-open neither closes it nor frees a probe slot', () => {
    const { clock, breaker, admit, changes } = setup({ halfOpenMaxProbes: 1 });
    const stale = admit();
    breaker.recordFailure(Code.Unavailable, admit());
    clock.t = 1_000;
    const probe = admit();
    expect(breaker.stats().probesInFlight).toBe(1);
    breaker.recordSuccess(stale);
    expect(breaker.state).toBe('half-open');
    expect(breaker.stats().probesInFlight).toBe(1);
    expect(breaker.allowRequest()).toBe(false);
    breaker.recordSuccess(probe);
    expect(changes).toEqual(['closed->open', 'open->half-open', 'half-open->closed']);
  });

  it('a failure admitted while closed that lands in half-open does not reopen it', () => {
    const { clock, breaker, admit } = setup({ halfOpenMaxProbes: 1 });
    const stale = admit();
    breaker.recordFailure(Code.Unavailable, admit());
    clock.t = 1_000;
    const probe = admit();
    breaker.recordFailure(Code.Unavailable, stale);
    expect(breaker.state).toBe('half-open');
    expect(breaker.stats()).toMatchObject({ trips: 1, probesInFlight: 1 });
    breaker.recordSuccess(probe);
    expect(breaker.state).toBe('closed');
  });

  it('a caller error from an earlier generation frees no probe slot', () => {
    const { clock, breaker, admit } = setup({ halfOpenMaxProbes: 1 });
    const stale = admit();
    breaker.recordFailure(Code.Unavailable, admit());
    clock.t = 1_000;
    admit();
    breaker.recordFailure(Code.Cancelled, stale);
    expect(breaker.stats().probesInFlight).toBe(1);
    expect(breaker.allowRequest()).toBe(false);
  });

  it('failures from a closed period before a trip do not count in the next closed period', () => {
    const { clock, breaker, admit } = setup({ consecutiveFailures: 2, successesToClose: 1 });
    const late = [admit(), admit()];
    breaker.recordFailure(Code.Unavailable, admit());
    breaker.recordFailure(Code.Unavailable, admit());
    expect(breaker.state).toBe('open');
    clock.t = 1_000;
    breaker.recordSuccess(admit());
    expect(breaker.state).toBe('closed');
    for (const generation of late) breaker.recordFailure(Code.Unavailable, generation);
    expect(breaker.state).toBe('closed');
    expect(breaker.stats()).toMatchObject({ consecutiveFailures: 0, windowCalls: 0 });
  });

  it('without a generation a result counts in the current state, as before', () => {
    const { clock, breaker, admit } = setup({ halfOpenMaxProbes: 1, successesToClose: 1 });
    admit();
    breaker.recordFailure(Code.Unavailable);
    clock.t = 1_000;
    admit();
    breaker.recordSuccess();
    expect(breaker.state).toBe('closed');
  });
});

describe('createCircuitBreaker: execute ignores late results', () => {
  async function trippedWithStaleCall(options: CircuitBreakerOptions) {
    const s = setup(options);
    const stale = deferred<string>();
    const staleCall = s.breaker.execute(() => stale.promise);
    await s.breaker.execute(() => Promise.reject(new RpcError(Code.Unavailable, 'down'))).catch(() => {});
    s.clock.t = 1_000;
    return { ...s, stale, staleCall };
  }

  it('a call admitted while closed that succeeds during half-open does not close the breaker', async () => {
    const { breaker, changes, stale, staleCall } = await trippedWithStaleCall({ halfOpenMaxProbes: 1 });
    const probe = deferred<string>();
    const probeCall = breaker.execute(() => probe.promise);
    stale.resolve('old');
    await expect(staleCall).resolves.toBe('old');
    expect(changes).toEqual(['closed->open', 'open->half-open']);
    probe.resolve('new');
    await expect(probeCall).resolves.toBe('new');
    expect(changes).toEqual(['closed->open', 'open->half-open', 'half-open->closed']);
  });

  it('never runs more than halfOpenMaxProbes probes at once because of a late success', async () => {
    const { breaker, stale, staleCall } = await trippedWithStaleCall({
      halfOpenMaxProbes: 1,
      successesToClose: 3,
    });
    const probe = deferred<string>();
    const probeCall = breaker.execute(() => probe.promise);
    stale.resolve('old');
    await staleCall;
    let ranSecond = false;
    const second = breaker.execute(async () => {
      ranSecond = true;
    });
    await expect(second).rejects.toMatchObject({ code: Code.Unavailable });
    expect(ranSecond).toBe(false);
    probe.resolve('p');
    await probeCall;
    expect(breaker.stats()).toMatchObject({ state: 'half-open', probesInFlight: 0 });
  });
});
