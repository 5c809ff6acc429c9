import type { LatencySummary } from './case-spec.js';
import type { Driver } from './drivers/driver.js';
import type { WindowRecorder } from './window-recorder.js';

/** The result of an open-loop run beyond what the recorder holds. */
export interface OpenLoopStats {
  /** Calls due in the window and not sent, because `maxOutstanding` calls were already waiting. */
  dropped: number;
  /** How late the generator itself sent calls after their due time (part of their latency). */
  sendLag: LatencySummary;
}

/**
 * Open loop: call i is due at `t0 + i / rate`, whether or not earlier calls have answered, and its latency
 * is measured from that scheduled time, not from when it was actually sent: a stall delays the send and
 * counts against the latency (no coordinated omission). Calls due inside the window are recorded, also when
 * they end after it. The sender sleeps on a timer while the next send is over 1.5 ms away and polls each
 * event-loop turn for the last stretch (a 1 ms timer would add its own lateness to every call); its own
 * lateness is recorded as `sendLag`, so the generator's share of the latency is visible.
 */
export function runOpenLoop(
  driver: Driver,
  rate: number,
  maxOutstanding: number,
  recorder: WindowRecorder,
): Promise<OpenLoopStats> {
  const interval = 1000 / rate;
  const t0 = performance.now();
  let i = 0;
  let outstanding = 0;
  let sending = true;
  // Send lag before, in and after the window, filed like the calls; only the window's is reported.
  const lags = recorder.slotHistograms();
  // Calls due before, in and after the window, sent or skipped. A skip is counted as due minus sent, not by
  // an increment of its own: an operation found only in the skipping branch has no type feedback when V8
  // compiles the loop, so the first skip, which comes when the client is already behind, threw the compiled
  // loop away and compiled it again (~7 ms of compiling on the client's own core, seen with --trace-deopt).
  const dueIn: [number, number, number] = [0, 0, 0];
  return new Promise((resolve) => {
    const finishIfIdle = (): void => {
      if (!sending && outstanding === 0) {
        const sendLag = lags[1].summary();
        resolve({ dropped: dueIn[1] - sendLag.count, sendLag });
      }
    };
    const send = (due: number): void => {
      outstanding++;
      // Every call, warm-up included: the recorder places it by its due time (see WindowRecorder).
      driver.call().then(
        () => {
          outstanding--;
          const end = performance.now();
          recorder.record(end - due, undefined, due, end);
          finishIfIdle();
        },
        (err: unknown) => {
          outstanding--;
          const end = performance.now();
          recorder.record(end - due, err ?? new Error('rejected'), due, end);
          finishIfIdle();
        },
      );
    };
    const tick = (): void => {
      const now = performance.now();
      while (t0 + i * interval <= now && !recorder.done) {
        const due = t0 + i * interval;
        i++;
        const slot = recorder.slot(due);
        dueIn[slot]++;
        if (outstanding >= maxOutstanding) continue;
        lags[slot].recordMs(now - due);
        send(due);
      }
      if (recorder.done) {
        sending = false;
        finishIfIdle();
        return;
      }
      const wait = t0 + i * interval - performance.now();
      if (wait > 1.5) setTimeout(tick, Math.floor(wait - 0.5));
      else setImmediate(tick);
    };
    tick();
  });
}
