import type { Balancer, Breaker, RetryAttempt, RetryPolicy, ServiceInstance } from '@mini-rpc/protocol';
import { Code, FrameType, MetadataKey, type RpcError } from '@mini-rpc/protocol';
import { describe, expect, it } from 'vitest';
import type { Cleanups } from '../../../tooling/testing/harness.js';
import { useCleanups } from '../../../tooling/testing/harness.js';
import { frameServer } from '../test/echo-server.js';
import { manualRegistry } from '../test/manual-registry.js';
import { clientMaker, failure } from '../test/support.js';

const cleanups = useCleanups();

const client = clientMaker(cleanups);

/**
 * A server on 127.0.0.1 behind a rate limit: its first `refuse` requests get what the rate-limit
 * middleware answers (ResourceExhausted, not run, `:r` = `hint`), the later ones an echo of their
 * arguments. Records when each request arrived (`Date.now()`).
 */
async function limitedServer(cleanups: Cleanups, refuse: number, hint: string) {
  const arrivals: number[] = [];
  const server = await frameServer(cleanups, (f, c) => {
    arrivals.push(Date.now());
    if (arrivals.length > refuse) {
      c.send({ type: FrameType.Response, codec: f.codec, id: f.id, payload: f.payload.slice() });
      return;
    }
    c.send({
      type: FrameType.Response,
      codec: f.codec,
      id: f.id,
      metadata: {
        [MetadataKey.Status]: String(Code.ResourceExhausted),
        [MetadataKey.Message]: 'rate limit exceeded',
        [MetadataKey.RetryAfter]: hint,
        [MetadataKey.NotRun]: '1',
      },
    });
  });
  return Object.assign(server, { arrivals });
}

/**
 * A policy that waits exactly the hint it is shown (0 without one), as `createRetryPolicy` does when the
 * hint is longer than its backoff; gives up after `maxRetries` retries; records what it was asked, and when.
 */
function hintPolicy(
  maxRetries = Number.POSITIVE_INFINITY,
): RetryPolicy & { asked: { attempt: RetryAttempt; at: number }[] } {
  const asked: { attempt: RetryAttempt; at: number }[] = [];
  return {
    asked,
    onCall: () => {},
    nextDelay: (attempt) => {
      asked.push({ attempt, at: Date.now() });
      if (attempt.attempt > maxRetries) return -1;
      const hint = attempt.error.metadata[MetadataKey.RetryAfter];
      return hint === undefined ? 0 : Number(hint);
    },
  };
}

/** Always the first instance of the list it is given. */
const first: Balancer = { name: 'first', pick: (list) => list[0] as ServiceInstance };

describe("the server's retry-after hint (':r')", () => {
  it('one server: the policy is shown the hint, and the retry waits the delay it returns', async () => {
    const server = await limitedServer(cleanups, 1, '60');
    const retry = hintPolicy();
    const c = client({ address: server.address, retry });
    expect(await c.call('S', 'echo', 1)).toBe(1);
    expect(retry.asked).toHaveLength(1);
    const { attempt, at } = retry.asked[0] as { attempt: RetryAttempt; at: number };
    expect(attempt.error.code).toBe(Code.ResourceExhausted);
    expect(attempt.error.metadata[MetadataKey.RetryAfter]).toBe('60');
    expect(server.arrivals).toHaveLength(2);
    // The wait starts after nextDelay returned and never ends early (a Date.now() deadline).
    expect((server.arrivals[1] as number) - at).toBeGreaterThanOrEqual(60);
  });

  it("several instances: the retry goes to another one, so the policy is not shown the first one's hint (its bucket, not the next one's)", async () => {
    const limited = await limitedServer(cleanups, Number.POSITIVE_INFINITY, '5000');
    const free = await limitedServer(cleanups, 0, '0');
    const { registry, deliver } = manualRegistry();
    const retry = hintPolicy();
    const c = client({ registry, balancer: first, retry, timeoutMs: 2_000 });
    const call = c.call('S', 'echo', 1);
    deliver([limited.instance('A'), free.instance('B')]);
    expect(await call).toBe(1);
    expect(retry.asked).toHaveLength(1);
    const { error } = (retry.asked[0] as { attempt: RetryAttempt }).attempt;
    expect([error.code, error.rawMessage]).toEqual([Code.ResourceExhausted, 'rate limit exceeded']);
    expect(error.metadata[MetadataKey.RetryAfter]).toBeUndefined();
    // The server's own error, hint included, is its cause.
    expect((error.cause as RpcError).metadata[MetadataKey.RetryAfter]).toBe('5000');
    expect([limited.arrivals.length, free.arrivals.length]).toEqual([1, 1]);
  });

  it('several instances: shown when no other instance could take the retry (their breakers open); the caller gets the error with its hint', async () => {
    const a = await limitedServer(cleanups, Number.POSITIVE_INFINITY, '40');
    const b = await limitedServer(cleanups, 0, '0');
    const { registry, deliver } = manualRegistry();
    // Gives up when asked a second time: the call ends with A's second refusal.
    const retry = hintPolicy(1);
    const breakers = (id: string): Breaker => ({
      state: id === 'B' ? 'open' : 'closed',
      allowRequest: () => id !== 'B',
      recordSuccess: () => {},
      recordFailure: () => {},
    });
    const c = client({ registry, balancer: first, retry, breakers, timeoutMs: 2_000 });
    const call = failure(c.call('S', 'echo', 1));
    deliver([a.instance('A'), b.instance('B')]);
    const err = await call;
    expect(retry.asked.map((x) => x.attempt.error.metadata[MetadataKey.RetryAfter])).toEqual(['40', '40']);
    expect((a.arrivals[1] as number) - (retry.asked[0]?.at as number)).toBeGreaterThanOrEqual(40);
    expect([err.code, err.metadata[MetadataKey.RetryAfter]]).toEqual([Code.ResourceExhausted, '40']);
    expect([a.arrivals.length, b.arrivals.length]).toEqual([2, 0]);
  });

  it('several instances, all tried: not shown, since the balancer may send the retry to any of them', async () => {
    const a = await limitedServer(cleanups, Number.POSITIVE_INFINITY, '40');
    const b = await limitedServer(cleanups, Number.POSITIVE_INFINITY, '9000');
    const { registry, deliver } = manualRegistry();
    const retry = hintPolicy(2);
    const c = client({ registry, balancer: first, retry, timeoutMs: 2_000 });
    const call = failure(c.call('S', 'echo', 1));
    deliver([a.instance('A'), b.instance('B')]);
    const err = await call;
    // A, then B (A tried), then A again (both tried): a hint is never the next attempt's for sure.
    expect(retry.asked.map((x) => x.attempt.error.metadata[MetadataKey.RetryAfter])).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
    expect([err.code, err.metadata[MetadataKey.RetryAfter]]).toEqual([Code.ResourceExhausted, '40']);
    expect([a.arrivals.length, b.arrivals.length]).toEqual([2, 1]);
  });
});
