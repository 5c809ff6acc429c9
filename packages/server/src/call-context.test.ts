import { Code, RpcError } from '@mini-rpc/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CallContext } from './call-context.js';

const make = (deadline?: number): CallContext =>
  new CallContext('Svc', 'm', 7, { ':s': 'Svc', ':m': 'm', user: 'x' }, '127.0.0.1:1', deadline);

describe('CallContext', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('carries the call facts', () => {
    const ctx = make(1_000_500);
    expect(ctx.service).toBe('Svc');
    expect(ctx.method).toBe('m');
    expect(ctx.requestId).toBe(7);
    expect(ctx.metadata.user).toBe('x');
    expect(ctx.peer).toBe('127.0.0.1:1');
    expect(ctx.deadline).toBe(1_000_500);
  });

  it('creates no timer, signal, response metadata or state until they are touched', () => {
    const ctx = make(1_000_500);
    expect(vi.getTimerCount()).toBe(0);
    expect(ctx.responseMetadataIfAny).toBeUndefined();
    const signal = ctx.signal;
    expect(vi.getTimerCount()).toBe(1);
    expect(ctx.signal).toBe(signal);
    expect(vi.getTimerCount()).toBe(1);
    ctx.responseMetadata.k = 'v';
    expect(ctx.responseMetadataIfAny).toEqual({ k: 'v' });
    ctx.state.user = 'ada';
    expect(ctx.state).toEqual({ user: 'ada' });
  });

  it('response metadata has no prototype, so __proto__ is plain data', () => {
    const md = make().responseMetadata;
    const key = '__proto__';
    md[key] = 'x';
    expect(Object.keys(md)).toEqual([key]);
    expect(Object.getPrototypeOf(md)).toBeNull();
  });

  it('the signal aborts with DeadlineExceeded when the deadline passes', () => {
    const ctx = make(1_000_500);
    const signal = ctx.signal;
    vi.advanceTimersByTime(499);
    expect(signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(signal.aborted).toBe(true);
    expect((signal.reason as RpcError).code).toBe(Code.DeadlineExceeded);
    expect(ctx.aborted?.code).toBe(Code.DeadlineExceeded);
  });

  it('a signal first read after the deadline is already aborted', () => {
    const ctx = make(1_000_100);
    vi.setSystemTime(1_000_200);
    expect(ctx.signal.aborted).toBe(true);
    expect((ctx.signal.reason as RpcError).code).toBe(Code.DeadlineExceeded);
  });

  it('without a deadline the signal never aborts by itself', () => {
    const ctx = make();
    const signal = ctx.signal;
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(3_600_000);
    expect(signal.aborted).toBe(false);
  });

  it('abort() before the signal is read: the signal is born aborted with that reason', () => {
    const ctx = make(1_000_500);
    const reason = new RpcError(Code.Cancelled, 'cancelled by the caller');
    ctx.abort(reason);
    expect(ctx.aborted).toBe(reason);
    expect(ctx.signal.aborted).toBe(true);
    expect(ctx.signal.reason).toBe(reason);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('abort() after the signal is read aborts it; the first reason wins', () => {
    const ctx = make();
    const signal = ctx.signal;
    const first = new RpcError(Code.Cancelled, 'first');
    ctx.abort(first);
    ctx.abort(new RpcError(Code.Unavailable, 'second'));
    expect(signal.reason).toBe(first);
    expect(ctx.aborted).toBe(first);
  });

  it('finish() releases the deadline timer; a finished call is never aborted by its deadline', () => {
    const ctx = make(1_000_500);
    const signal = ctx.signal;
    ctx.finish();
    expect(ctx.finished).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1_000);
    expect(signal.aborted).toBe(false);
  });

  it('a deadline beyond the 24.8-day timer limit does not abort the signal early', () => {
    // setTimeout clamps delays above 2^31−1 ms to 1 ms: a far deadline must not become an instant abort.
    const ctx = make(1_000_000 + 3_000_000_000);
    const signal = ctx.signal;
    vi.advanceTimersByTime(1_000);
    expect(signal.aborted).toBe(false);
  });
});
