import type { Driver } from './drivers/driver.js';
import type { WindowRecorder } from './window-recorder.js';

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Closed loop: `concurrency` workers, each with one call in flight, starting the next as soon as one ends.
 * A call counts when it ends inside the window. Workers stop once the window closes; the promise settles
 * when every worker has (each call is bounded by the stack's own timeout and by the caller's case timeout).
 */
export async function runClosedLoop(
  driver: Driver,
  concurrency: number,
  recorder: WindowRecorder,
): Promise<void> {
  const worker = async (): Promise<void> => {
    while (!recorder.done) {
      const start = performance.now();
      let error: unknown;
      try {
        await driver.call();
      } catch (err) {
        error = err ?? new Error('rejected');
      }
      // Every call, warm-up included: the recorder places it by its end (see WindowRecorder).
      const end = performance.now();
      recorder.record(end - start, error, end, end);
      // A call that fails at once must not spin on microtasks and starve timers and I/O.
      if (error !== undefined) await nextTurn();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
