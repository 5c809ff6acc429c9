import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { useEtcd } from '../../../tooling/testing/use-etcd.js';
import { createEtcdRegistry } from '../src/index.js';
import { watchThroughProxy } from './proxied-watch.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';
import { ids, instance, waitFor, watchRecorder } from './wait-for.js';

const etcd = useEtcd();
let rawClient: Etcd3 | undefined;
/** A plain etcd3 client on this file's etcd, for what the test does behind the registries' back. */
const raw = () => (rawClient ??= new Etcd3({ hosts: etcd.endpoint }));
let proxy: TcpProxy;
afterAll(() => {
  rawClient?.close();
});
afterEach(async () => {
  await proxy?.close();
});

describe('etcd watch rebuild', () => {
  it('rebuilds (lists and watches again) when etcd cancels its watcher: its start revision was compacted away', async () => {
    proxy = await startTcpProxy(etcd.clientPort);
    const owner = createEtcdRegistry({ endpoints: etcd.endpoint, prefix: '/compact', ttlSeconds: 30 });
    const seen = watchRecorder();
    // This registry reaches etcd only through the proxy, so the test can hold it off alone.
    const watching = createEtcdRegistry({
      endpoints: `etcd://127.0.0.1:${proxy.port}`,
      prefix: '/compact',
      callTimeoutMs: 500,
      logger: seen.logger,
    });
    try {
      await owner.register(instance('Svc', 'a'));
      // The first answer on its connection is its listing; etcd then hears nothing from it until released,
      // so its watcher is created after the compaction below, at a revision etcd no longer has.
      let release: (() => void) | undefined;
      void proxy
        .holdAfterMessage(() => true)
        .then((r) => {
          release = r;
        });
      watching.watch('Svc', seen.listener, seen.onError);
      await waitFor(() => release !== undefined && seen.last() === 'a', 2000, 'the watch to list a');
      await owner.register(instance('Svc', 'b'));
      await owner.deregister(instance('Svc', 'a'));
      const revision = (await raw().get('anything').exec()).header.revision;
      await raw().kv.compact({ revision, physical: true });

      release?.();
      const took = await waitFor(() => seen.last() === 'b', 5000, 'the rebuilt watcher to see only b');
      console.log(`watch rebuilt after compaction ${took} ms after etcd heard from it again`);
      expect(seen.errors.map((e) => e.message)).toContainEqual(expect.stringMatching(/Watcher canceled/));
      expect(seen.messages).toContain('etcd registry: watch failed, listing and watching again');
      expect(seen.lists.map(ids)).toEqual([['a'], ['b']]);

      // The rebuilt watch follows changes again.
      await owner.register(instance('Svc', 'c'));
      await waitFor(() => seen.last() === 'b,c', 1000, 'the rebuilt watcher to see c');
    } finally {
      await Promise.all([watching.close(), owner.close()]);
    }
  });

  it('a reconnect whose resume revision was compacted away lists again; etcd’s cancel of the resume is ignored', async () => {
    proxy = await startTcpProxy(etcd.clientPort);
    const { owner, seen, cutOff, close } = await watchThroughProxy(
      etcd.endpoint,
      proxy,
      '/compact-resume',
      500,
    );
    try {
      await cutOff();
      await owner.register(instance('Svc', 'b'));
      await owner.deregister(instance('Svc', 'a'));
      const revision = (await raw().get('anything').exec()).header.revision;
      await raw().kv.compact({ revision, physical: true });
      const listsWhileCut = seen.lists.length;

      proxy.unblock();
      // etcd answers the resume (created), then cancels it (compacted): the watch lists again on the first,
      // and the cancel of the watcher it replaced is no error of the watch.
      const took = await waitFor(() => seen.last() === 'b', 5000, 'the watch to list again and see only b');
      console.log(
        `watch listed again ${took} ms after etcd became reachable again (resume revision compacted)`,
      );
      expect(seen.messages).toContain('etcd registry: watch reconnected, listing and watching again');
      expect(seen.lists.slice(0, listsWhileCut).map(ids)).toEqual([['a']]);

      await owner.register(instance('Svc', 'c'));
      await waitFor(() => seen.last() === 'b,c', 1000, 'the new watcher to see c');
      expect(seen.errors.map((e) => e.message)).not.toContainEqual(expect.stringMatching(/Watcher canceled/));
    } finally {
      await close();
    }
  });

  it('a watch started while etcd is unreachable reports it, delivers nothing, then the list once it is back', async () => {
    proxy = await startTcpProxy(etcd.clientPort);
    const owner = createEtcdRegistry({ endpoints: etcd.endpoint, prefix: '/late', ttlSeconds: 30 });
    const seen = watchRecorder();
    const watching = createEtcdRegistry({
      endpoints: `etcd://127.0.0.1:${proxy.port}`,
      prefix: '/late',
      callTimeoutMs: 300,
      logger: seen.logger,
    });
    try {
      await owner.register(instance('Svc', 'a'));
      proxy.block();
      watching.watch('Svc', seen.listener, seen.onError);
      await waitFor(() => seen.errors.length >= 2, 5000, 'two failed attempts to be reported');
      expect(seen.lists).toEqual([]);
      await expect(watching.discover('Svc')).rejects.toMatchObject({ name: 'RpcError' });
      proxy.unblock();
      await waitFor(() => seen.last() === 'a', 5000, 'the list once etcd is reachable');
      expect(seen.lists).toHaveLength(1);
    } finally {
      await Promise.all([watching.close(), owner.close()]);
    }
  });

  it('a registration whose lease etcd expired while cut off comes back on a new lease', async () => {
    proxy = await startTcpProxy(etcd.clientPort);
    const log = watchRecorder();
    const registrant = createEtcdRegistry({
      endpoints: `etcd://127.0.0.1:${proxy.port}`,
      prefix: '/partition',
      ttlSeconds: 1,
      callTimeoutMs: 300,
      logger: log.logger,
    });
    const seen = watchRecorder();
    const watching = createEtcdRegistry({ endpoints: etcd.endpoint, prefix: '/partition' });
    try {
      await registrant.register(instance('Svc', 'a'));
      watching.watch('Svc', seen.listener);
      await waitFor(() => seen.last() === 'a', 2000, 'the watcher to see a');
      proxy.block();
      // etcd itself is up: it expires the lease after the TTL and every watcher sees the instance go.
      await waitFor(() => seen.last() === '', 3000, 'the lease to expire');
      proxy.unblock();
      // The watcher may see the put before the registrant has logged its success: wait for both.
      await waitFor(
        () => seen.last() === 'a' && log.messages.includes('etcd registry: registered again on a new lease'),
        5000,
        'the registrant to register again',
      );
    } finally {
      await Promise.all([watching.close(), registrant.close()]);
    }
  });
});
