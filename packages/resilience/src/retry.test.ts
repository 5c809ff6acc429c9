import type { RetryPolicy } from '@mini-rpc/protocol';
import { Code, MetadataKey, RpcError } from '@mini-rpc/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRetryBudget, createRetryPolicy, deadlineFrom, retry } from './index.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

const unavailable = (): Promise<never> => Promise.reject(new RpcError(Code.Unavailable, 'down'));

describe('retry', () => {
  it('returns the first success, waiting the backoff between attempts', async () => {
    const started: number[] = [];
    const t0 = Date.now();
    const promise = retry(
      async (attempt) => {
        started.push(Date.now() - t0);
        if (attempt < 2) throw new RpcError(Code.Unavailable, 'down');
        return attempt;
      },
      createRetryPolicy({ jitter: 'none', budget: false }),
    );
    await vi.runAllTimersAsync();
    await expect(promise).resolves.toBe(2);
    expect(started).toEqual([0, 25, 75]);
  });

  it("gives up at once when the server's retry-after hint (':r') is longer than the time left", async () => {
    let attempts = 0;
    const limited = new RpcError(Code.ResourceExhausted, 'rate limit exceeded', {
      metadata: { [MetadataKey.RetryAfter]: '5000' },
    });
    // No backoff of its own: without the hint, the policy would retry at once, twice.
    const policy = createRetryPolicy({ jitter: 'none', initialDelayMs: 0, budget: false });
    const promise = retry(
      () => {
        attempts++;
        return Promise.reject(limited);
      },
      policy,
      { deadline: deadlineFrom(1_000) },
    );
    await expect(promise).rejects.toBe(limited);
    expect(attempts).toBe(1);
  });

  it('rethrows the last error exactly as fn threw it once the policy gives up', async () => {
    let attempts = 0;
    const last = new RpcError(Code.Unavailable, 'still down');
    const promise = retry(
      () => {
        attempts++;
        return Promise.reject(last);
      },
      createRetryPolicy({ budget: false }),
    );
    const settled = promise.catch((e: unknown) => e);
    await vi.runAllTimersAsync();
    expect(await settled).toBe(last);
    expect(attempts).toBe(3);
  });

  it('does not retry what the policy refuses (a plain Error counts as Unknown)', async () => {
    let attempts = 0;
    const plain = new Error('bug');
    const settled = retry(
      () => {
        attempts++;
        return Promise.reject(plain);
      },
      createRetryPolicy({ budget: false }),
    ).catch((e: unknown) => e);
    await vi.runAllTimersAsync();
    expect(await settled).toBe(plain);
    expect(attempts).toBe(1);
  });

  it('passes the time left before the deadline and stops when a retry cannot finish in time', async () => {
    const seen: number[] = [];
    const policy: RetryPolicy = {
      onCall: () => {},
      nextDelay: (a) => {
        seen.push(a.remainingMs);
        return a.remainingMs > 100 ? 100 : -1;
      },
    };
    const settled = retry(unavailable, policy, { deadline: deadlineFrom(250) }).catch((e: unknown) => e);
    await vi.runAllTimersAsync();
    expect(seen).toEqual([250, 150, 50]);
    expect(await settled).toMatchObject({ code: Code.Unavailable });
  });

  it('fails with DeadlineExceeded without calling fn when the deadline has passed', async () => {
    const fn = vi.fn(unavailable);
    await expect(retry(fn, createRetryPolicy(), { deadline: Date.now() - 1 })).rejects.toMatchObject({
      code: Code.DeadlineExceeded,
    });
    expect(fn).not.toHaveBeenCalled();
  });

  it('a NaN delay from the policy gives up, as in the client (it retried at once, with no wait)', async () => {
    const fn = vi.fn(unavailable);
    // NaN three times, then -1: the old loop made 4 attempts back to back (forever with NaN only).
    const policy: RetryPolicy = { onCall: () => {}, nextDelay: (a) => (a.attempt <= 3 ? Number.NaN : -1) };
    await expect(retry(fn, policy)).rejects.toMatchObject({ code: Code.Unavailable });
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('gives up at once when the wait would end at or past the deadline, rather than after it', async () => {
    const fn = vi.fn(unavailable);
    const policy: RetryPolicy = { onCall: () => {}, nextDelay: () => 5_000 };
    const settled = retry(fn, policy, { deadline: deadlineFrom(100) }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(0);
    // The old loop slept the 5 s and failed with DeadlineExceeded 4.9 s after the caller's deadline.
    expect(vi.getTimerCount()).toBe(0);
    expect(await settled).toMatchObject({ code: Code.Unavailable });
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('a wait longer than the 2^31-1 ms timer limit is cut to it, not run after 1 ms', async () => {
    const fn = vi.fn(unavailable);
    const policy: RetryPolicy = { onCall: () => {}, nextDelay: (a) => (a.attempt === 1 ? 2 ** 32 : -1) };
    const settled = retry(fn, policy).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(fn).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(2 ** 31 - 1 - 1_000);
    expect(fn).toHaveBeenCalledTimes(2);
    expect(await settled).toMatchObject({ code: Code.Unavailable });
  });

  it('rejects a NaN deadline with InvalidArgument, calling nothing', async () => {
    const fn = vi.fn(unavailable);
    const policy = createRetryPolicy({ budget: false });
    const settled = retry(fn, policy, { deadline: deadlineFrom(Number.NaN) }).catch((e: unknown) => e);
    await vi.runAllTimersAsync();
    expect(await settled).toMatchObject({ code: Code.InvalidArgument });
    expect(fn).not.toHaveBeenCalled();
  });

  it('an abort during the backoff wait rejects with Cancelled and stops', async () => {
    const controller = new AbortController();
    const fn = vi.fn(unavailable);
    const settled = retry(fn, createRetryPolicy({ jitter: 'none', budget: false }), {
      signal: controller.signal,
    }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(10);
    controller.abort();
    expect(await settled).toMatchObject({ code: Code.Cancelled });
    await vi.runAllTimersAsync();
    expect(fn).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('an error thrown after the signal aborted is not retried', async () => {
    const controller = new AbortController();
    let attempts = 0;
    const settled = retry(
      () => {
        attempts++;
        controller.abort();
        return unavailable();
      },
      createRetryPolicy({ budget: false }),
      { signal: controller.signal },
    ).catch((e: unknown) => e);
    await vi.runAllTimersAsync();
    expect(await settled).toMatchObject({ code: Code.Unavailable });
    expect(attempts).toBe(1);
  });

  it('N calls against an always-failing fn make at most N × (1 + ratio) + reserve attempts', async () => {
    const n = 1_000;
    const ratio = 0.1;
    const reserve = 10 * 10; // minRetriesPerSecond × windowMs / 1000
    const budget = createRetryBudget({ ratio, minRetriesPerSecond: 10, windowMs: 10_000 });
    const policy = createRetryPolicy({ budget, maxRetries: 3, initialDelayMs: 1, maxDelayMs: 4 });
    let attempts = 0;
    const failing = (): Promise<never> => {
      attempts++;
      return unavailable();
    };
    const calls = Array.from({ length: n }, () => retry(failing, policy).catch((e: unknown) => e));
    await vi.runAllTimersAsync();
    const errors = await Promise.all(calls);
    expect(errors.every((e) => e instanceof RpcError && e.code === Code.Unavailable)).toBe(true);
    expect(attempts).toBeLessThanOrEqual(n * (1 + ratio) + reserve);
    // All within one window: 100 retries from the calls' deposits + 100 from the reserve, where no budget
    // would have allowed 3 retries per call (4 000 attempts).
    expect(attempts).toBe(1_200);
  });
});
