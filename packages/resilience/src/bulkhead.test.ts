import { Code, RpcError } from '@mini-rpc/protocol';
import { describe, expect, it } from 'vitest';
import { createBulkhead } from './index.js';

describe('createBulkhead', () => {
  it('hands out slots synchronously up to maxConcurrent, with one shared release function', () => {
    const bulkhead = createBulkhead({ maxConcurrent: 2 });
    const a = bulkhead.acquire();
    const b = bulkhead.acquire();
    expect(typeof a).toBe('function');
    expect(a).toBe(b);
    expect(bulkhead.active).toBe(2);
    (a as () => void)();
    expect(bulkhead.active).toBe(1);
  });

  it('refuses with ResourceExhausted at once when every slot and the queue are full (default: no queue)', () => {
    const bulkhead = createBulkhead({ maxConcurrent: 1 });
    bulkhead.acquire();
    expect(() => bulkhead.acquire()).toThrow(expect.objectContaining({ code: Code.ResourceExhausted }));
    const queued = createBulkhead({ maxConcurrent: 1, maxQueue: 2 });
    queued.acquire();
    expect(queued.acquire()).toBeInstanceOf(Promise);
    expect(queued.acquire()).toBeInstanceOf(Promise);
    expect(queued.queued).toBe(2);
    expect(() => queued.acquire()).toThrow(RpcError);
  });

  it('queued callers get the slot in FIFO order as slots are released', async () => {
    const bulkhead = createBulkhead({ maxConcurrent: 1, maxQueue: 3 });
    const release = bulkhead.acquire() as () => void;
    const order: number[] = [];
    const waiters = [1, 2, 3].map((i) =>
      (bulkhead.acquire() as Promise<() => void>).then((r) => {
        order.push(i);
        return r;
      }),
    );
    release();
    const r1 = await waiters[0]!;
    expect(order).toEqual([1]);
    expect(bulkhead.active).toBe(1);
    expect(bulkhead.queued).toBe(2);
    r1();
    (await waiters[1]!)();
    (await waiters[2]!)();
    expect(order).toEqual([1, 2, 3]);
    expect(bulkhead).toMatchObject({ active: 0, queued: 0 });
  });

  it('an aborted waiter leaves the queue with Cancelled, or DeadlineExceeded for a timeout', async () => {
    const bulkhead = createBulkhead({ maxConcurrent: 1, maxQueue: 3 });
    const release = bulkhead.acquire() as () => void;
    const cancel = new AbortController();
    const timeout = new AbortController();
    const first = bulkhead.acquire(cancel.signal) as Promise<() => void>;
    const second = bulkhead.acquire(timeout.signal) as Promise<() => void>;
    const third = bulkhead.acquire() as Promise<() => void>;
    cancel.abort();
    await expect(first).rejects.toMatchObject({ code: Code.Cancelled });
    timeout.abort(new DOMException('too slow', 'TimeoutError'));
    await expect(second).rejects.toMatchObject({ code: Code.DeadlineExceeded });
    expect(bulkhead.queued).toBe(1);
    release();
    (await third)();
    expect(bulkhead).toMatchObject({ active: 0, queued: 0 });
  });

  it('an already-aborted call is Cancelled, not ResourceExhausted, when the queue is full', () => {
    const bulkhead = createBulkhead({ maxConcurrent: 1, maxQueue: 1 });
    bulkhead.acquire();
    void bulkhead.acquire();
    expect(bulkhead.queued).toBe(1);
    expect(() => bulkhead.acquire(AbortSignal.abort())).toThrow(
      expect.objectContaining({ code: Code.Cancelled }),
    );
    const noQueue = createBulkhead({ maxConcurrent: 1 });
    noQueue.acquire();
    const timedOut = AbortSignal.abort(new DOMException('too slow', 'TimeoutError'));
    expect(() => noQueue.acquire(timedOut)).toThrow(expect.objectContaining({ code: Code.DeadlineExceeded }));
  });

  it('refuses to queue a caller whose signal already aborted, keeping an RpcError reason', () => {
    const bulkhead = createBulkhead({ maxConcurrent: 1, maxQueue: 1 });
    bulkhead.acquire();
    const reason = new RpcError(Code.DeadlineExceeded, 'deadline passed');
    expect(() => bulkhead.acquire(AbortSignal.abort(reason))).toThrow(reason);
    expect(bulkhead.queued).toBe(0);
  });

  it('run() holds a slot while fn runs and releases it however fn ends', async () => {
    const bulkhead = createBulkhead({ maxConcurrent: 2, maxQueue: 10 });
    let running = 0;
    let peak = 0;
    const gates: Array<() => void> = [];
    const task = (fail: boolean) => () =>
      new Promise<string>((resolve, reject) => {
        running++;
        peak = Math.max(peak, running);
        gates.push(() => {
          running--;
          if (fail) reject(new Error('task failed'));
          else resolve('ok');
        });
      });
    const results = Array.from({ length: 8 }, (_, i) =>
      bulkhead.run(task(i % 2 === 0)).then(
        (v) => v,
        (e: Error) => e.message,
      ),
    );
    // Open the gates one by one as tasks start; bounded by the number of tasks.
    for (let opened = 0; opened < 8; opened++) {
      for (let spins = 0; spins < 10 && gates.length === 0; spins++) await Promise.resolve();
      gates.shift()?.();
      await Promise.resolve();
    }
    const outcomes = await Promise.all(results);
    expect(peak).toBe(2);
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(4);
    expect(outcomes.filter((o) => o === 'task failed')).toHaveLength(4);
    expect(bulkhead).toMatchObject({ active: 0, queued: 0 });
  });

  it('run() rejects with ResourceExhausted when full', async () => {
    const bulkhead = createBulkhead({ maxConcurrent: 1 });
    bulkhead.acquire();
    await expect(bulkhead.run(async () => 1)).rejects.toMatchObject({ code: Code.ResourceExhausted });
  });

  it('an extra release when nothing is held does not make the count negative', () => {
    const bulkhead = createBulkhead({ maxConcurrent: 1 });
    const release = bulkhead.acquire() as () => void;
    release();
    release();
    expect(bulkhead.active).toBe(0);
    bulkhead.acquire();
    expect(() => bulkhead.acquire()).toThrow(RpcError);
  });

  it('rejects bad options with InvalidArgument', () => {
    for (const options of [{ maxConcurrent: 0 }, { maxQueue: -1 }, { maxConcurrent: 1.5 }]) {
      expect(() => createBulkhead(options)).toThrow(expect.objectContaining({ code: Code.InvalidArgument }));
    }
  });
});
