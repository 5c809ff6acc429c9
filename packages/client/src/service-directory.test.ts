import type { RegistryWatch, ServiceInstance } from '@mini-rpc/protocol';
import { Code } from '@mini-rpc/protocol';
import { describe, expect, it } from 'vitest';
import { useCleanups, waitFor } from '../../../tooling/testing/harness.js';
import { echoServer } from '../test/echo-server.js';
import { manualRegistry } from '../test/manual-registry.js';
import { clientMaker, failure, processWarnings, QUIET_CLIENT } from '../test/support.js';
import { createClient } from './index.js';

const cleanups = useCleanups();

const client = clientMaker(cleanups);

/** Process warnings of `name` emitted from now until the test ends. */
const warnings = (name: string): Error[] => processWarnings(cleanups, name);

describe('discovery: the instance lists of a registry', () => {
  it('an instance whose address changes (same id) drains its old connection: calls there run to their end, new ones go to the new address; a new weight changes no connection', async () => {
    const a = await echoServer(cleanups);
    const b = await echoServer(cleanups);
    const { registry, deliver } = manualRegistry();
    const c = client({ registry });
    const first = c.call('S', 'echo', 1);
    deliver([a.instance('X')]);
    expect(await first).toBe(1);
    // A new weight only: the same connection goes on.
    deliver([{ ...a.instance('X'), weight: 5 }]);
    const inFlight = failure(c.call('S', 'hold', 2, { timeoutMs: 150 }));
    await waitFor(() => a.requests.length === 2, 2_000, 'the held call at a');
    expect([a.sockets, a.closed]).toEqual([1, 0]);
    deliver([b.instance('X')]);
    expect(await c.call('S', 'echo', 3)).toBe(3);
    expect(b.requests).toHaveLength(1);
    // Drained, not closed: the call in flight ends at its own deadline, then the old connection closes.
    expect((await inFlight).code).toBe(Code.DeadlineExceeded);
    await waitFor(() => a.closed === 1, 2_000, 'the connection to the old address to close');
    expect(a.sockets).toBe(1);
  });

  it('a repeated id counts once (its first entry)', async () => {
    const a = await echoServer(cleanups);
    const b = await echoServer(cleanups);
    const { registry, deliver } = manualRegistry();
    const c = client({ registry });
    const first = c.call('S', 'echo', 0);
    deliver([a.instance('X'), a.instance('X'), b.instance('Y')]);
    await first;
    for (let i = 1; i < 4; i++) await c.call('S', 'echo', i);
    // Round robin over [X, Y], not over [X, X, Y].
    expect([a.requests.length, b.requests.length]).toEqual([2, 2]);
  });

  it('entries without an id, a host or a port in 1…65535, or that are no instance, are left out with a warning; a call that finds none says why', async () => {
    const a = await echoServer(cleanups);
    const seen = warnings('MiniRpcRegistryWarning');
    const { registry, deliver } = manualRegistry();
    const c = client({ registry });
    const good = a.instance('good');
    const bad = [
      { ...good, id: 'no-host', host: '' },
      { ...good, id: 'port-70000', port: 70_000 },
      { ...good, id: 'port-0', port: 0 },
      { ...good, id: 'port-nan', port: Number.NaN },
      { ...good, id: '' },
      null,
    ];
    const first = c.call('S', 'echo', 1);
    deliver([...bad, good]);
    expect(await first).toBe(1);
    for (let i = 2; i <= 8; i++) expect(await c.call('S', 'echo', i)).toBe(i);
    expect(a.requests).toHaveLength(8);
    await waitFor(() => seen.length === 6, 2_000, 'six warnings');
    expect(seen.map((w) => w.message)).toEqual([
      "mini-rpc client: instance 'no-host' of 'S' left out: host '' is not a host name or address",
      "mini-rpc client: instance 'port-70000' of 'S' left out: port 70000 is not an integer in 1…65535",
      "mini-rpc client: instance 'port-0' of 'S' left out: port 0 is not an integer in 1…65535",
      "mini-rpc client: instance 'port-nan' of 'S' left out: port NaN is not an integer in 1…65535",
      "mini-rpc client: instance '' of 'S' left out: has no id",
      "mini-rpc client: an entry of 'S' left out: is not an instance",
    ]);
    // Only the invalid ones left: the call says why there is nothing to call. No second warning for them.
    deliver([bad[1]]);
    const err = await failure(c.call('S', 'echo', 9));
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toBe(
      "S: no usable instance (instance 'port-70000' of 'S' left out: port 70000 is not an integer in 1…65535)",
    );
    // A delivery that is not a list is ignored: the last list stays in force.
    deliver([good]);
    deliver(undefined);
    expect(await c.call('S', 'echo', 10)).toBe(10);
    await waitFor(() => seen.length === 7, 2_000, 'the warning about the delivery that is no list');
    expect(seen[6]?.message).toBe(
      "mini-rpc client: the registry delivered undefined for 'S', not a list: ignored",
    );
  });

  it('an empty list fails calls with Unavailable (nothing registered); instances again, and calls resume', async () => {
    const a = await echoServer(cleanups);
    const { registry, deliver } = manualRegistry();
    const c = client({ registry });
    const first = c.call('S', 'echo', 1);
    deliver([a.instance('X')]);
    expect(await first).toBe(1);
    deliver([]);
    const err = await failure(c.call('S', 'echo', 2));
    expect([err.code, err.rawMessage]).toEqual([Code.Unavailable, 'S: no instances registered']);
    deliver([a.instance('X')]);
    expect(await c.call('S', 'echo', 3)).toBe(3);
  });

  it('stats() keeps the counts of instances that left, and after close(): created and reused never go down', async () => {
    const a = await echoServer(cleanups);
    const { registry, deliver } = manualRegistry();
    const c = createClient({ ...QUIET_CLIENT, registry });
    const first = c.call('S', 'echo', 0);
    deliver([a.instance('X')]);
    await first;
    for (let i = 1; i < 4; i++) await c.call('S', 'echo', i);
    expect(c.stats()).toEqual({ created: 1, reused: 3, active: 0, idle: 1, reuseRatio: 3 / 4 });
    deliver([]); // X leaves: its idle connection closes
    await waitFor(() => a.closed === 1, 2_000, 'the connection to X to close');
    expect(c.stats()).toEqual({ created: 1, reused: 3, active: 0, idle: 0, reuseRatio: 3 / 4 });
    deliver([a.instance('Y')]);
    await c.call('S', 'echo', 4);
    await c.close();
    expect(c.stats()).toEqual({ created: 2, reused: 3, active: 0, idle: 0, reuseRatio: 3 / 5 });
  });

  it('a watch error reported synchronously inside watch() fails the call that started it at once; a list later serves', async () => {
    const a = await echoServer(cleanups);
    const cause = new Error('registry unreachable');
    let listener: ((list: readonly ServiceInstance[]) => void) | undefined;
    const { registry } = manualRegistry();
    registry.watch = (_name, l, onError) => {
      listener = l;
      onError?.(cause);
      return { stop: async () => {} };
    };
    const c = client({ registry });
    const t0 = Date.now();
    const err = await failure(c.call('S', 'echo', 1, { timeoutMs: 2_000 }));
    expect([err.code, err.rawMessage, err.cause]).toEqual([
      Code.Unavailable,
      "registry watch of 'S' failed: registry unreachable",
      cause,
    ]);
    expect(Date.now() - t0).toBeLessThan(1_000);
    const later = c.call('S', 'echo', 2, { timeoutMs: 2_000 });
    listener?.([a.instance('X')]);
    expect(await later).toBe(2);
  });

  it('a watch() that returns a rejected promise fails the waiting call with Unavailable, and no rejection goes unhandled', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    cleanups.push(() => process.off('unhandledRejection', onUnhandled));
    const refused = new Error('watch refused');
    const { registry, counts } = manualRegistry({ watch: () => Promise.reject(refused) });
    const c = client({ registry });
    const err = await failure(c.call('S', 'echo', 1, { timeoutMs: 2_000 }));
    expect([err.code, err.rawMessage, err.cause]).toEqual([Code.Unavailable, 'watch refused', refused]);
    // Asked again for the failover attempts (twice at most), as for a watch() that throws.
    expect(counts.watches).toBe(3);
    await c.close();
    await new Promise((resolve) => setImmediate(resolve));
    expect(unhandled).toEqual([]);
  });

  it('a watch() that returns a promise of a watch works, and close() stops that watch', async () => {
    const a = await echoServer(cleanups);
    let stops = 0;
    const watch: RegistryWatch = {
      stop: async () => {
        stops++;
      },
    };
    const { registry, deliver } = manualRegistry({ watch: async () => watch });
    const c = client({ registry });
    const first = c.call('S', 'echo', 1);
    await new Promise((resolve) => setImmediate(resolve));
    deliver([a.instance('X')] satisfies ServiceInstance[]);
    expect(await first).toBe(1);
    await c.close();
    expect(stops).toBe(1);
  });
});
