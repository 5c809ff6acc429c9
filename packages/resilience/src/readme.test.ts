import { readFileSync } from 'node:fs';
import type { Breaker } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';
import { expect, it } from 'vitest';
import {
  createBulkhead,
  createCircuitBreaker,
  createRetryPolicy,
  deadlineFrom,
  retry,
  withTimeout,
} from './index.js';

/** Code lines of a snippet: no imports, no blank lines, no indentation. */
function codeLines(text: string): string[] {
  const withoutImports = text.replace(/^import[\s\S]*?from '[^']+';$/gm, '');
  return withoutImports
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

it('the README snippet is the code this test runs', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const snippet = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  const self = readFileSync(new URL(import.meta.url), 'utf8');
  const region = /\/\/ #region readme\n([\s\S]*?)\/\/ #endregion/.exec(self)?.[1];
  expect(snippet).toBeDefined();
  expect(region).toBeDefined();
  expect(codeLines(snippet ?? '')).toEqual(codeLines(region ?? ''));
  expect(snippet).toContain("from '@mini-rpc/resilience';");
});

it('the README snippet works: one Unavailable, one retry, the answer', async () => {
  // #region readme
  const breaker = createCircuitBreaker({ consecutiveFailures: 5, coolDownMs: 5_000 });
  const bulkhead = createBulkhead({ maxConcurrent: 10, maxQueue: 100 });
  const policy = createRetryPolicy({ maxRetries: 2 }); // 25 ms, 50 ms, full jitter, a 10 % retry budget

  // Any async function: this one fails once with Unavailable (safe to repeat), then answers.
  let calls = 0;
  async function fetchPrice(signal: AbortSignal): Promise<number> {
    signal.throwIfAborted();
    calls++;
    if (calls === 1) throw new RpcError(Code.Unavailable, 'instance restarting');
    return 42;
  }

  const deadline = deadlineFrom(1_000);
  const price = await withTimeout(
    (signal) =>
      retry(() => breaker.execute(() => bulkhead.run(() => fetchPrice(signal), signal)), policy, {
        signal,
        deadline,
      }),
    1_000,
  );
  console.log(price, calls); // 42 2
  // #endregion
  expect(price).toBe(42);
  expect(calls).toBe(2);
  expect(breaker.stats()).toMatchObject({ state: 'closed', windowCalls: 2, windowFailures: 1 });
  expect(bulkhead).toMatchObject({ active: 0, queued: 0 });
});

it('the README snippet on late results is the code this test runs, and ignores a late success', async () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const snippet = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)]
    .map((m) => m[1] ?? '')
    .find((text) => text.includes('breaker.generation'));
  const self = readFileSync(new URL(import.meta.url), 'utf8');
  const region = /\/\/ #region readme-generation\n([\s\S]*?)\/\/ #endregion/.exec(self)?.[1];
  expect(snippet).toBeDefined();
  expect(codeLines(snippet ?? '')).toEqual(codeLines(region ?? ''));

  // #region readme-generation
  // Admits a call itself and records its result later, as the mini-rpc client does.
  async function guarded<T>(breaker: Breaker, call: () => Promise<T>): Promise<T> {
    if (!breaker.allowRequest()) throw new RpcError(Code.Unavailable, 'circuit open');
    const generation = breaker.generation; // at once: the same synchronous turn as allowRequest()
    try {
      const value = await call();
      breaker.recordSuccess(generation);
      return value;
    } catch (error) {
      breaker.recordFailure(RpcError.from(error).code, generation);
      throw error;
    }
  }
  // #endregion

  const clock = { t: 0 };
  const breaker = createCircuitBreaker({ consecutiveFailures: 1, coolDownMs: 1_000, now: () => clock.t });
  let finishSlow!: (value: string) => void;
  const slow = guarded(breaker, () => new Promise<string>((resolve) => (finishSlow = resolve)));
  await expect(
    guarded(breaker, () => Promise.reject(new RpcError(Code.Unavailable, 'down'))),
  ).rejects.toThrow();
  clock.t = 1_000;
  expect(breaker.state).toBe('half-open');
  finishSlow('late');
  await expect(slow).resolves.toBe('late');
  expect(breaker.state).toBe('half-open');
});
