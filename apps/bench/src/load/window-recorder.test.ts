import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { WindowPlan } from './window-recorder.js';
import { WindowRecorder } from './window-recorder.js';

function recorder(plan: WindowPlan) {
  const events: string[] = [];
  const r = new WindowRecorder(plan, {
    onWarmupTick: () => events.push(`tick@${Date.now()}`),
    onWindowStart: () => events.push(`start@${Date.now()}`),
    onWindowEnd: () => events.push(`end@${Date.now()}`),
    onKill: () => events.push(`kill@${Date.now()}`),
  });
  return { r, events, edges: () => events.filter((e) => !e.startsWith('tick@')) };
}

/** A successful call of `ms` that ends now (as the closed loop records it). */
function finish(r: WindowRecorder, ms = 1): void {
  const now = performance.now();
  r.record(ms, undefined, now, now);
}

// Every test runs on fake timers, with Date starting at 0.
beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('WindowRecorder warm-up', () => {
  it('opens at warmupMs when enough calls finished by then, and closes windowMs later', () => {
    const { r, edges } = recorder({ warmupMs: 400, warmupCalls: 3, maxWarmupMs: 3_000, windowMs: 1_000 });
    for (let i = 0; i < 5; i++) finish(r);
    vi.advanceTimersByTime(399);
    expect(r.measuring).toBe(false);
    vi.advanceTimersByTime(1);
    expect([r.measuring, r.warmupCalls]).toEqual([true, 5]);
    vi.advanceTimersByTime(1_000);
    expect([r.measuring, r.done]).toEqual([false, true]);
    expect(edges()).toEqual(['start@400', 'end@1400']);
    r.cancel();
  });

  it('waits past warmupMs for the calls, and opens at the first warm-up tick after the count is reached', () => {
    const { r, edges } = recorder({ warmupMs: 400, warmupCalls: 3, maxWarmupMs: 3_000, windowMs: 1_000 });
    finish(r);
    vi.advanceTimersByTime(890);
    expect(r.measuring).toBe(false);
    finish(r);
    r.record(1, new Error('refused'), performance.now(), performance.now());
    // The count is polled, not checked per call: the window opens at the next tick (every 25 or 26 ms), at 892.
    expect(r.measuring).toBe(false);
    vi.advanceTimersByTime(10);
    expect([r.measuring, r.warmupCalls]).toEqual([true, 3]);
    vi.advanceTimersByTime(1_000);
    expect(edges()).toEqual(['start@892', 'end@1892']);
    r.cancel();
  });

  it('opens at maxWarmupMs however few calls finished: a slow stack stays bounded', () => {
    const { r, edges } = recorder({
      warmupMs: 400,
      warmupCalls: 1_000,
      maxWarmupMs: 3_000,
      windowMs: 1_000,
    });
    finish(r);
    vi.advanceTimersByTime(2_999);
    expect(r.measuring).toBe(false);
    vi.advanceTimersByTime(1);
    expect(r.measuring).toBe(true);
    vi.advanceTimersByTime(1_000);
    expect(edges()).toEqual(['start@3000', 'end@4000']);
    r.cancel();
  });

  it('with maxWarmupMs equal to warmupMs (the open loop), opens then however few calls finished, with one timer of that delay', () => {
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout');
    const { r, edges } = recorder({ warmupMs: 400, warmupCalls: 1_000, maxWarmupMs: 400, windowMs: 1_000 });
    expect(setTimeoutSpy.mock.calls.filter((call) => call[1] === 400)).toHaveLength(1);
    setTimeoutSpy.mockRestore();
    finish(r);
    vi.advanceTimersByTime(399);
    expect(r.measuring).toBe(false);
    vi.advanceTimersByTime(1);
    expect(r.measuring).toBe(true);
    vi.advanceTimersByTime(1_000);
    expect(edges()).toEqual(['start@400', 'end@1400']);
    r.cancel();
  });

  it('without a call count, opens at warmupMs; the kill comes killAfterMs into the window', () => {
    const { r, edges } = recorder({ warmupMs: 200, windowMs: 3_000, killAfterMs: 1_000, eventMs: 500 });
    vi.advanceTimersByTime(3_200);
    expect(edges()).toEqual(['start@200', 'kill@1200', 'end@3200']);
    r.cancel();
  });

  it('ticks every 25-26 ms of the warm-up (the client warms its IPC with them) and stops once the window opens', () => {
    const { r, events } = recorder({ warmupMs: 100, windowMs: 1_000 });
    vi.advanceTimersByTime(1_100);
    // 26 and 25 ms in turn: each tick's timer list empties as it fires, as the warm-up's own does at the end.
    expect(events).toEqual(['tick@25', 'tick@51', 'tick@76', 'start@100', 'end@1100']);
    r.cancel();
  });

  it('cancel() stops the warm-up ticks and the window', () => {
    const { r, events } = recorder({ warmupMs: 400, windowMs: 1_000 });
    vi.advanceTimersByTime(30);
    r.cancel();
    vi.advanceTimersByTime(5_000);
    expect(events).toEqual(['tick@25']);
    expect(r.measuring).toBe(false);
  });
});

describe('WindowRecorder filing', () => {
  it('reports only the calls placed inside the window, by the time the loop gives', () => {
    const { r } = recorder({ warmupMs: 100, windowMs: 1_000 });
    // Warm-up: slow calls and a failure that must not show in the window's figures.
    for (let i = 0; i < 3; i++) finish(r, 50);
    r.record(1, new Error('warm-up failure'), performance.now(), performance.now());
    const dueBeforeOpen = performance.now();
    vi.advanceTimersByTime(100);
    expect(r.measuring).toBe(true);
    finish(r, 2);
    finish(r, 4);
    r.record(1, new Error('ECONNRESET 42'), performance.now(), performance.now());
    // Open loop: a call due before the window, ending in it, belongs to the warm-up.
    r.record(30, undefined, dueBeforeOpen, performance.now());
    // Open loop: a call due in the window that ends after it still counts; a closed-loop call ending after
    // the window does not.
    const dueInWindow = performance.now();
    vi.advanceTimersByTime(1_000);
    expect(r.done).toBe(true);
    r.record(8, undefined, dueInWindow, performance.now());
    finish(r, 99);
    expect([r.warmupCalls, r.calls, r.errors]).toEqual([5, 3, 1]);
    expect(r.latency()).toMatchObject({ count: 3, max: 8000 });
    expect(r.errorMessages).toEqual({ 'Error: ECONNRESET N': 1 });
    r.cancel();
  });

  it('slot() places a time before (0), in (1) or after (2) the window', () => {
    const { r } = recorder({ warmupMs: 100, windowMs: 1_000 });
    const before = performance.now();
    expect(r.slot(before)).toBe(0);
    vi.advanceTimersByTime(100);
    const inside = performance.now();
    expect([r.slot(before), r.slot(inside)]).toEqual([0, 1]);
    vi.advanceTimersByTime(1_000);
    expect([r.slot(before), r.slot(inside), r.slot(performance.now())]).toEqual([0, 1, 2]);
    r.cancel();
  });
});
