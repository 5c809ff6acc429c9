import type { ServiceInstance } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';
import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { useEtcd } from '../../../tooling/testing/use-etcd.js';
import { createEtcdRegistry } from '../src/index.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';
import { ids, instance, waitFor } from './wait-for.js';

const etcd = useEtcd();
let rawClient: Etcd3 | undefined;
const raw = () => (rawClient ??= new Etcd3({ hosts: etcd.endpoint }));
let proxy: TcpProxy | undefined;
afterAll(() => {
  rawClient?.close();
});
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

describe('etcd that stops answering (frozen, or packets dropped)', () => {
  it('deregister fails and close() finishes within the call timeouts; close is idempotent; keys then expire', async () => {
    proxy = await startTcpProxy(etcd.clientPort);
    const callTimeoutMs = 300;
    const r = createEtcdRegistry({
      endpoints: `etcd://127.0.0.1:${proxy.port}`,
      prefix: '/frozen',
      ttlSeconds: 1,
      callTimeoutMs,
    });
    const lists: (readonly ServiceInstance[])[] = [];
    await r.register(instance('Svc', 'a'));
    await r.register(instance('Svc', 'b'));
    r.watch('Svc', (list) => lists.push(list));
    await waitFor(() => ids(lists.at(-1)).join() === 'a,b', 2000, 'the watcher to see a and b');

    proxy.freeze();
    let started = Date.now();
    const error = await r.deregister(instance('Svc', 'a')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RpcError);
    expect([Code.Unavailable, Code.DeadlineExceeded]).toContain((error as RpcError).code);
    expect(Date.now() - started).toBeLessThan(4 * callTimeoutMs);

    started = Date.now();
    const closing = r.close();
    expect(r.close()).toBe(closing);
    await closing;
    await r.close();
    const closeMs = Date.now() - started;
    console.log(`etcd frozen: close() took ${closeMs} ms (callTimeoutMs ${callTimeoutMs})`);
    expect(closeMs).toBeLessThan(4 * callTimeoutMs);
    // Nothing keeps the leases alive any more: etcd expires both keys within their TTL.
    await waitFor(
      async () => (await raw().getAll().prefix('/frozen/').keys()).length === 0,
      3000,
      'the keys to expire',
    );
    expect(ids(lists.at(-1))).toEqual(['a', 'b']);
  });
});
