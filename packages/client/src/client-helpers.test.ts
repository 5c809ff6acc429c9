import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { sleep } from './client-helpers.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('sleep', () => {
  it('waits a delay beyond 2^31 − 1 ms in full (Node ends a longer setTimeout after 1 ms)', async () => {
    vi.useFakeTimers();
    let woke = false;
    const waiting = sleep(2 ** 32, undefined).then(() => {
      woke = true;
    });
    await vi.advanceTimersByTimeAsync(2 ** 31);
    expect(woke).toBe(false);
    await vi.advanceTimersByTimeAsync(2 ** 32 - 2 ** 31);
    await waiting;
    expect(woke).toBe(true);
  });

  it('ends at once for 0, a negative delay or NaN; an abort ends it with the reason', async () => {
    vi.useFakeTimers();
    await sleep(0, undefined);
    await sleep(-5, undefined);
    await sleep(Number.NaN, undefined);
    const closing = new AbortController();
    const waiting = sleep(1_000, undefined, closing.signal).catch((e: unknown) => e);
    closing.abort(new Error('client closed'));
    expect(((await waiting) as { rawMessage: string }).rawMessage).toBe('client closed');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('resolves when the clock passes the end while it is being set up (a busy host: CI saw a ReferenceError)', async () => {
    // Each read of the clock is 5 ms later than the one before: the timer finds its end already passed.
    let now = 1_000_000;
    vi.spyOn(Date, 'now').mockImplementation(() => (now += 5));
    const closing = new AbortController();
    const signal = new AbortController().signal;
    await expect(sleep(1, signal, closing.signal)).resolves.toBeUndefined();
    vi.restoreAllMocks();
    // Nothing is left listening.
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    expect(getEventListeners(closing.signal, 'abort')).toHaveLength(0);
  });
});
