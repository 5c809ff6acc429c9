import { RequestMap } from '@mini-rpc/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ClientConnection, PendingCall } from './client-connection.js';
import type { Expiring } from './deadline-sweep.js';
import { DeadlineSweep, SWEEP_INTERVAL_MS } from './deadline-sweep.js';

/** A connection with pending calls that leave `pending` when they expire, as real ones do. */
function fakeConnection(deadlines: number[]) {
  const pending = new RequestMap<PendingCall>();
  const expired: number[] = [];
  deadlines.forEach((deadline, i) => {
    const id = i + 1;
    pending.set(id, {
      id,
      deadline,
      expire: () => {
        expired.push(id);
        pending.delete(id);
      },
    } as PendingCall);
  });
  return { conn: { pending } as unknown as ClientConnection, expired, pending };
}

describe('DeadlineSweep', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 10_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('expires every overdue call across connections with one interval timer', () => {
    const a = fakeConnection([10_050, 10_200]);
    const b = fakeConnection([10_100]);
    const sweep = new DeadlineSweep(() => [a.conn, b.conn]);
    sweep.arm();
    sweep.arm();
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(49);
    expect([a.expired, b.expired]).toEqual([[], []]);
    vi.advanceTimersByTime(SWEEP_INTERVAL_MS);
    expect(a.expired).toEqual([1]);
    vi.advanceTimersByTime(50);
    expect(b.expired).toEqual([1]);
    vi.advanceTimersByTime(100);
    expect(a.expired).toEqual([1, 2]);
  });

  it('a deadline fires at most one interval late', () => {
    const a = fakeConnection([10_003]);
    const sweep = new DeadlineSweep(() => [a.conn]);
    sweep.arm();
    vi.advanceTimersByTime(3 + SWEEP_INTERVAL_MS);
    expect(a.expired).toEqual([1]);
  });

  it('stops itself when nothing is pending, and can be armed again', () => {
    const a = fakeConnection([10_020]);
    const sweep = new DeadlineSweep(() => [a.conn]);
    sweep.arm();
    vi.advanceTimersByTime(30);
    expect(a.expired).toEqual([1]);
    vi.advanceTimersByTime(SWEEP_INTERVAL_MS);
    expect(vi.getTimerCount()).toBe(0);
    sweep.arm();
    expect(vi.getTimerCount()).toBe(1);
    sweep.stop();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('calls without a deadline (Infinity) keep the sweep running but never expire', () => {
    const a = fakeConnection([Number.POSITIVE_INFINITY]);
    const sweep = new DeadlineSweep(() => [a.conn]);
    sweep.arm();
    vi.advanceTimersByTime(60_000);
    expect(a.expired).toEqual([]);
    expect(vi.getTimerCount()).toBe(1);
    sweep.stop();
  });

  it('expires the other waits it is given as well (calls inside interceptors), and runs while any is pending', () => {
    const a = fakeConnection([10_200]);
    const others = new Set<Expiring>();
    const expired: string[] = [];
    /** A wait that records its expiry and leaves `others` then, as a BoundedCall does. */
    const waitUntil = (name: string, deadline: number): void => {
      const w: Expiring = {
        deadline,
        expire: () => {
          expired.push(name);
          others.delete(w);
        },
      };
      others.add(w);
    };
    waitUntil('first', 10_050);
    waitUntil('second', 10_400);
    const sweep = new DeadlineSweep(
      () => [a.conn],
      () => others,
    );
    sweep.arm();
    vi.advanceTimersByTime(50 + SWEEP_INTERVAL_MS);
    expect(expired).toEqual(['first']);
    vi.advanceTimersByTime(200);
    expect(a.expired).toEqual([1]);
    // The connection has nothing pending now; the second wait alone keeps the sweep running.
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(200);
    expect(expired).toEqual(['first', 'second']);
    vi.advanceTimersByTime(SWEEP_INTERVAL_MS);
    expect(vi.getTimerCount()).toBe(0);
  });
});
