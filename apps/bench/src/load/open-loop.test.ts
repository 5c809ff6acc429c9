import { describe, expect, it } from 'vitest';
import type { Driver } from './drivers/driver.js';
import { runOpenLoop } from './open-loop.js';
import { WindowRecorder } from './window-recorder.js';

const RATE = 2_000;
const PLAN = { warmupMs: 60, windowMs: 100 };

/** A driver whose calls wait until `release()`, or answer at once when `hold` is false. */
function driver(hold: boolean): Driver & { calls: number; release(): void } {
  const waiting: (() => void)[] = [];
  return {
    sent: null,
    calls: 0,
    call() {
      this.calls++;
      if (!hold) return Promise.resolve(null);
      return new Promise<null>((resolve) => waiting.push(() => resolve(null)));
    },
    release() {
      for (const resolve of waiting.splice(0)) resolve();
    },
    close: () => Promise.resolve(),
  };
}

/**
 * Expects `count` to be the number of calls due in the window as it actually ran: rate × its length, less
 * those due after the generator's last pass before the window closed (a few, more on a busy machine).
 */
function expectDueInWindow(count: number, r: WindowRecorder): void {
  const due = (RATE * r.windowMs) / 1000;
  expect(count).toBeLessThanOrEqual(Math.ceil(due) + 1);
  expect(count).toBeGreaterThanOrEqual(Math.floor(due - Math.max(5, 0.1 * due)));
}

function recorder(onWindowEnd: () => void = () => {}): WindowRecorder {
  return new WindowRecorder(PLAN, { onWindowStart: () => {}, onWindowEnd });
}

describe('runOpenLoop', () => {
  it('sends every call due when none waits, skips none, and records one send lag per call of the window', async () => {
    const d = driver(false);
    const r = recorder();
    const stats = await runOpenLoop(d, RATE, 1_000, r);
    expect(stats.dropped).toBe(0);
    expect(stats.sendLag.count).toBe(r.latency().count);
    expectDueInWindow(r.latency().count, r);
  });

  it('counts as skipped every call due in the window while maxOutstanding calls wait, and sends none of them', async () => {
    const d = driver(true);
    const r = recorder(() => d.release());
    const stats = await runOpenLoop(d, RATE, 3, r);
    // The three calls sent first (in the warm-up) never answer before the window ends: nothing else is sent.
    expect(d.calls).toBe(3);
    expect(stats.sendLag.count).toBe(0);
    expectDueInWindow(stats.dropped, r);
  });
});
