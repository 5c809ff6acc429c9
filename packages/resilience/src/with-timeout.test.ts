import { Code, RpcError } from '@mini-rpc/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { withTimeout } from './index.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** A task that settles only when its signal aborts, like a well-behaved call. */
const untilAborted = (signal: AbortSignal): Promise<never> =>
  new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));

describe('withTimeout', () => {
  it('resolves with fn’s value and clears its timer', async () => {
    await expect(withTimeout(async () => 42, 1_000)).resolves.toBe(42);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('passes fn’s own errors through unchanged', async () => {
    const error = new Error('own');
    await expect(withTimeout(() => Promise.reject(error), 1_000)).rejects.toBe(error);
    await expect(
      withTimeout(() => {
        throw error;
      }, 1_000),
    ).rejects.toBe(error);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects with DeadlineExceeded after ms and aborts fn’s signal with the same error', async () => {
    let seen: AbortSignal | undefined;
    const settled = withTimeout((signal) => {
      seen = signal;
      return untilAborted(signal);
    }, 100).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(99);
    expect(seen?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const error = await settled;
    expect(error).toBeInstanceOf(RpcError);
    expect((error as RpcError).code).toBe(Code.DeadlineExceeded);
    expect(seen?.reason).toBe(error);
  });

  it('settles on time even when fn ignores its signal', async () => {
    const settled = withTimeout(() => new Promise(() => {}), 50).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(50);
    expect(await settled).toMatchObject({ code: Code.DeadlineExceeded });
  });

  it('rejects with Cancelled when the outer signal aborts', async () => {
    const outer = new AbortController();
    const settled = withTimeout(untilAborted, 1_000, { signal: outer.signal }).catch((e: unknown) => e);
    outer.abort();
    expect(await settled).toMatchObject({ code: Code.Cancelled });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('removes its listener from the outer signal however the call ends', async () => {
    const outer = new AbortController();
    const add = vi.spyOn(outer.signal, 'addEventListener');
    const remove = vi.spyOn(outer.signal, 'removeEventListener');
    await withTimeout(async () => 1, 1_000, { signal: outer.signal });
    await withTimeout(() => Promise.reject(new Error('x')), 1_000, { signal: outer.signal }).catch(() => {});
    const timedOut = withTimeout(untilAborted, 10, { signal: outer.signal }).catch(() => {});
    await vi.advanceTimersByTimeAsync(10);
    await timedOut;
    expect(add).toHaveBeenCalledTimes(3);
    expect(remove).toHaveBeenCalledTimes(3);
  });

  it('keeps the outer signal’s RpcError reason (a propagated deadline)', async () => {
    const outer = new AbortController();
    const reason = new RpcError(Code.DeadlineExceeded, 'caller deadline');
    const settled = withTimeout(untilAborted, 1_000, { signal: outer.signal }).catch((e: unknown) => e);
    outer.abort(reason);
    expect(await settled).toBe(reason);
  });

  it('does not call fn when the outer signal already aborted or ms is 0', async () => {
    const fn = vi.fn(async () => 1);
    await expect(withTimeout(fn, 1_000, { signal: AbortSignal.abort() })).rejects.toMatchObject({
      code: Code.Cancelled,
    });
    await expect(withTimeout(fn, 0)).rejects.toMatchObject({ code: Code.DeadlineExceeded });
    expect(fn).not.toHaveBeenCalled();
  });

  it('Infinity (and anything past the 2^31 ms timer limit) means no timer', async () => {
    let finish: (v: string) => void = () => {};
    const pending = withTimeout(() => new Promise<string>((r) => (finish = r)), Number.POSITIVE_INFINITY);
    expect(vi.getTimerCount()).toBe(0);
    const huge = withTimeout(async () => 'x', 2 ** 32);
    expect(vi.getTimerCount()).toBe(0);
    finish('done');
    await expect(pending).resolves.toBe('done');
    await expect(huge).resolves.toBe('x');
  });

  it('rejects a negative or NaN ms with InvalidArgument', async () => {
    await expect(withTimeout(async () => 1, -1)).rejects.toMatchObject({ code: Code.InvalidArgument });
    await expect(withTimeout(async () => 1, Number.NaN)).rejects.toMatchObject({
      code: Code.InvalidArgument,
    });
  });
});
