import { Code, RpcError } from '@mini-rpc/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isUnprocessed } from './index.js';
import { atDeadline, MAX_TIMER_MS, WaitList } from './wait-list.js';

afterEach(() => {
  vi.useRealTimers();
});

const outcome = (p: Promise<unknown>) =>
  p.then(
    (value) => ({ value, error: undefined }),
    (error: RpcError) => ({ value: undefined, error }),
  );

describe('atDeadline', () => {
  it('waits a deadline beyond 2^31 − 1 ms in steps (Node fires a longer timer after 1 ms)', () => {
    vi.useFakeTimers();
    const fired = vi.fn();
    atDeadline(Date.now() + MAX_TIMER_MS + 5_000, fired);
    vi.advanceTimersByTime(MAX_TIMER_MS);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(5_000);
    expect(fired).toHaveBeenCalledOnce();
  });

  it('sets no timer for an infinite deadline; runs one already past on the next timer turn, never before it returns; can be cancelled', () => {
    vi.useFakeTimers();
    const fired = vi.fn();
    atDeadline(Number.POSITIVE_INFINITY, fired);
    expect(vi.getTimerCount()).toBe(0);
    atDeadline(Date.now() - 1, fired);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(0);
    expect(fired).toHaveBeenCalledOnce();
    const stop = atDeadline(Date.now() + 100, fired);
    stop();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('WaitList', () => {
  it('each waiter leaves on its own signal or deadline; the others get the outcome', async () => {
    vi.useFakeTimers();
    const list = new WaitList<string>('the thing');
    const controller = new AbortController();
    const aborted = outcome(list.wait(undefined, controller.signal));
    const late = outcome(list.wait(Date.now() + 100, undefined));
    const patient = outcome(list.wait(Date.now() + 10_000, new AbortController().signal));
    controller.abort();
    vi.advanceTimersByTime(100);
    expect(list.size).toBe(1);
    list.resolve('done');
    expect(vi.getTimerCount()).toBe(0);
    const [a, l, p] = await Promise.all([aborted, late, patient]);
    expect(a.error?.code).toBe(Code.Cancelled);
    expect(l.error?.code).toBe(Code.DeadlineExceeded);
    expect(l.error?.rawMessage).toBe('deadline exceeded waiting for the thing');
    expect(isUnprocessed(l.error as RpcError)).toBe(true);
    expect(p.value).toBe('done');
  });

  it('reject() fails every waiter; an RpcError abort reason is kept; a past deadline fails at once', async () => {
    const list = new WaitList<void>('x');
    const reason = new RpcError(Code.Aborted, 'mine');
    const first = outcome(list.wait(undefined, AbortSignal.abort(reason)));
    const second = outcome(list.wait(undefined, undefined));
    const third = outcome(list.wait(Date.now() - 1, undefined));
    list.reject(new RpcError(Code.Unavailable, 'gone'));
    expect((await first).error).toBe(reason);
    expect((await second).error?.rawMessage).toBe('gone');
    expect((await third).error?.code).toBe(Code.DeadlineExceeded);
  });
});
