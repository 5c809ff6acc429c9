import { readFileSync } from 'node:fs';
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
