import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { WindowPlan } from './window-recorder.js';
import { WindowRecorder } from './window-recorder.js';

function recorder(plan: WindowPlan) {
  const events: string[] = [];
  const r = new WindowRecorder(plan, {
    onWindowStart: () => events.push(`start@${Date.now()}`),
    onWindowEnd: () => events.push(`end@${Date.now()}`),
    onKill: () => events.push(`kill@${Date.now()}`),
  });
  return { r, events };
}

describe('WindowRecorder warm-up', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('opens at warmupMs when enough calls finished by then, and closes windowMs later', () => {
    const { r, events } = recorder({ warmupMs: 400, warmupCalls: 3, maxWarmupMs: 3_000, windowMs: 1_000 });
    for (let i = 0; i < 5; i++) r.warmed();
    vi.advanceTimersByTime(399);
    expect(r.measuring).toBe(false);
    vi.advanceTimersByTime(1);
    expect([r.measuring, r.warmupCalls]).toEqual([true, 5]);
    vi.advanceTimersByTime(1_000);
    expect([r.measuring, r.done]).toEqual([false, true]);
    expect(events).toEqual(['start@400', 'end@1400']);
    r.cancel();
  });

  it('waits past warmupMs for the calls, and opens on the one that completes the count', () => {
    const { r, events } = recorder({ warmupMs: 400, warmupCalls: 3, maxWarmupMs: 3_000, windowMs: 1_000 });
    r.warmed();
    vi.advanceTimersByTime(900);
    expect(r.measuring).toBe(false);
    r.warmed();
    expect(r.measuring).toBe(false);
    r.warmed();
    expect(r.measuring).toBe(true);
    vi.advanceTimersByTime(1_000);
    expect(events).toEqual(['start@900', 'end@1900']);
    r.cancel();
  });

  it('opens at maxWarmupMs however few calls finished: a slow stack stays bounded', () => {
    const { r, events } = recorder({
      warmupMs: 400,
      warmupCalls: 1_000,
      maxWarmupMs: 3_000,
      windowMs: 1_000,
    });
    r.warmed();
    vi.advanceTimersByTime(2_999);
    expect(r.measuring).toBe(false);
    vi.advanceTimersByTime(1);
    expect(r.measuring).toBe(true);
    vi.advanceTimersByTime(1_000);
    expect(events).toEqual(['start@3000', 'end@4000']);
    r.cancel();
  });

  it('without a call count, opens at warmupMs; the kill comes killAfterMs into the window', () => {
    const { r, events } = recorder({ warmupMs: 200, windowMs: 3_000, killAfterMs: 1_000, eventMs: 500 });
    vi.advanceTimersByTime(3_200);
    expect(events).toEqual(['start@200', 'kill@1200', 'end@3200']);
    r.cancel();
  });
});
