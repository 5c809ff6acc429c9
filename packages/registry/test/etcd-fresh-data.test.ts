import type { Registry } from '@mini-rpc/protocol';
import { Etcd3 } from 'etcd3';
import { afterEach, describe, expect, it } from 'vitest';
import { useEtcd } from '../../../tooling/testing/use-etcd.js';
import { createEtcdRegistry } from '../src/index.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';
import { ids, instance, waitFor, watchRecorder } from './wait-for.js';

// The etcd the registries start on, and the one that replaces it behind the same address: an etcd that comes
// back with a fresh data dir (disk lost, restored from an old backup) as the clients see it.
const before = useEtcd();
const after = useEtcd();
let proxy: TcpProxy | undefined;
const open: (Registry | Etcd3)[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close()));
  await proxy?.close();
  proxy = undefined;
});

describe('etcd back with a fresh data dir', () => {
  it('registrations come back and the watch delivers the new etcd’s list (no stale, no missing instance)', async () => {
    proxy = await startTcpProxy(before.clientPort);
    const endpoints = `etcd://127.0.0.1:${proxy.port}`;
    const log = watchRecorder();
    const seen = watchRecorder();
    const registrant = createEtcdRegistry({
      endpoints,
      ttlSeconds: 1,
      callTimeoutMs: 300,
      logger: log.logger,
    });
    const watching = createEtcdRegistry({ endpoints, callTimeoutMs: 300, logger: seen.logger });
    // Registered on the old etcd only: its data is gone with the data dir.
    const gone = createEtcdRegistry({ endpoints: before.endpoint, ttlSeconds: 30 });
    const raw = new Etcd3({ hosts: before.endpoint });
    open.push(watching, registrant, gone, raw);

    await registrant.register(instance('Svc', 'a'));
    await gone.register(instance('Svc', 'c'));
    // History the new etcd does not have: the watch's revision is then far ahead of the new etcd's.
    for (let i = 0; i < 30; i++) await raw.put('/elsewhere/counter').value(String(i));
    watching.watch('Svc', seen.listener);
    await waitFor(() => seen.last() === 'a,c', 2000, 'the watcher to see a and c');

    proxy.retarget(after.clientPort);
    proxy.block();
    proxy.unblock();
    const fresh = createEtcdRegistry({ endpoints: after.endpoint, ttlSeconds: 30 });
    open.push(fresh);
    await fresh.register(instance('Svc', 'b'));

    // a: its lease is unknown to the new etcd, so it is registered again; b: new; c: lived only in the old data.
    const took = await waitFor(() => seen.last() === 'a,b', 5000, 'the watcher to see exactly a and b');
    await waitFor(
      () => log.messages.includes('etcd registry: registered again on a new lease'),
      2000,
      'the registrant to log its new registration',
    );
    console.log(`fresh etcd: watch delivered the new list ${took} ms after b registered`);
    expect(seen.messages).toContain(
      'etcd registry: etcd is behind the revision this watch had seen (a fresh data dir?), listing and watching again',
    );
    // One listing for that reconnect, logged once: the warning replaces the usual reconnect line.
    expect(seen.messages).not.toContain('etcd registry: watch reconnected, listing and watching again');
    expect(ids(await watching.discover('Svc'))).toEqual(['a', 'b']);
    // The old etcd's list, then only lists of the new one (b may come before a is back): never c again.
    expect(seen.lists[0]?.map((i) => i.id)).toEqual(['a', 'c']);
    expect(seen.lists.slice(1).filter((l) => ids(l).includes('c'))).toEqual([]);
  });
});
