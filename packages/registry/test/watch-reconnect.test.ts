import { afterEach, describe, expect, it } from 'vitest';
import { useEtcd } from '../../../tooling/testing/use-etcd.js';
import { watchThroughProxy } from './proxied-watch.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';
import { ids, instance, waitFor } from './wait-for.js';

const etcd = useEtcd();
let proxy: TcpProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

const RELISTED = 'etcd registry: watch reconnected, listing and watching again';

/** How many watchers etcd has, from its own metrics. */
async function etcdWatchers(): Promise<number> {
  const metrics = await (await fetch(`http://127.0.0.1:${etcd.clientPort}/metrics`)).text();
  const line = metrics.split('\n').find((l) => l.startsWith('etcd_debugging_mvcc_watcher_total '));
  if (line === undefined) throw new Error('etcd reports no etcd_debugging_mvcc_watcher_total');
  return Number(line.split(' ')[1]);
}

/**
 * Whether a gRPC message is etcd's answer to a watch create request: a WatchResponse (etcd rpc.proto) with
 * `created` (field 3) true and not `canceled` (field 4). Other answers on the connection of the watching
 * registry below (ranges, watch events) have no field 3 set to 1: it keeps no lease, whose answers would.
 */
function isWatchCreated(message: Uint8Array): boolean {
  const fields = new Map<number, bigint>();
  let at = 0;
  /** The varint at `at`, or undefined where there is none (the message is not protobuf after all). */
  const varint = (): bigint | undefined => {
    let value = 0n;
    // A varint has at most 10 bytes.
    for (let shift = 0n; shift < 70n && at < message.length; shift += 7n) {
      const byte = message[at++] ?? 0;
      value |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return value;
    }
    return undefined;
  };
  // Every pass consumes at least the field's tag.
  while (at < message.length) {
    const tag = varint();
    if (tag === undefined) return false;
    const field = Number(tag >> 3n);
    const wireType = Number(tag & 7n);
    const value = wireType === 0 || wireType === 2 ? varint() : undefined;
    if (value === undefined) return false;
    if (wireType === 0) fields.set(field, value);
    else at += Number(value);
  }
  return at === message.length && fields.get(3) === 1n && !fields.get(4);
}

describe('etcd watch reconnect', () => {
  it('lists and watches again after a reconnect and delivers etcd’s current list', async () => {
    proxy = await startTcpProxy(etcd.clientPort);
    const { owner, seen, cutOff, close } = await watchThroughProxy(etcd.endpoint, proxy, '/reconnect', 500);
    try {
      await cutOff();
      // Behind its back: a deregistered (its lease revoked, its key deleted), b registered.
      await owner.deregister(instance('Svc', 'a'));
      await owner.register(instance('Svc', 'b'));
      expect(seen.messages).not.toContain(RELISTED);

      proxy.unblock();
      await waitFor(() => seen.messages.includes(RELISTED), 5000, 'the watch to list again once reconnected');
      await waitFor(() => seen.last() === 'b', 2000, 'the watcher to see only b');
      expect(ids(await owner.discover('Svc'))).toEqual(['b']);
      // No empty list in between, and the listing that found what the stream would have brought is silent.
      expect(seen.lists.map(ids)).toEqual([['a'], ['b']]);

      // The new watch follows changes.
      await owner.register(instance('Svc', 'c'));
      await waitFor(() => seen.last() === 'b,c', 2000, 'the new watcher to see c');
    } finally {
      await close();
    }
  });

  it('loses no change when the stream drops again right after etcd answered its resume', async () => {
    proxy = await startTcpProxy(etcd.clientPort);
    const { owner, seen, cutOff, close } = await watchThroughProxy(etcd.endpoint, proxy, '/resume-race', 500);
    try {
      await cutOff();
      await owner.deregister(instance('Svc', 'a'));
      await owner.register(instance('Svc', 'b'));

      // etcd3 moves the watcher's resume revision to the create answer's revision before the changes up to it
      // (a's delete, b's put) have arrived; the connection drops right there, and etcd3's next resume starts
      // after them. Only a listing brings them back.
      let cut = false;
      void proxy.cutAfterMessage(isWatchCreated).then(() => {
        cut = true;
      });
      proxy.unblock();
      await waitFor(() => cut, 5000, 'the proxy to cut the connection after the watch create answer');
      await owner.register(instance('Svc', 'c'));
      const took = await waitFor(() => seen.last().includes('c'), 5000, 'the watcher to see c');
      console.log(`resume race: the watch saw c ${took} ms after it registered`);
      // Not a,c: a's delete and b's put, skipped by etcd3's resume, are not lost.
      expect(seen.last()).toBe('b,c');
      expect(seen.lists.slice(1).filter((list) => ids(list).includes('a'))).toEqual([]);
    } finally {
      await close();
    }
  });

  it('stop() while it lists again leaves no watcher on etcd and delivers nothing more', async () => {
    proxy = await startTcpProxy(etcd.clientPort);
    const { owner, seen, watch, cutOff, close } = await watchThroughProxy(
      etcd.endpoint,
      proxy,
      '/stop-relist',
    );
    try {
      await waitFor(async () => (await etcdWatchers()) === 1, 2000, 'etcd to have its watcher');

      await cutOff();
      await owner.deregister(instance('Svc', 'a'));
      // etcd answers the resume, then hears nothing more until released: the listing stays in flight.
      let release: (() => void) | undefined;
      void proxy.holdAfterMessage(isWatchCreated).then((r) => {
        release = r;
      });
      proxy.unblock();
      await waitFor(
        () => release !== undefined && seen.messages.includes(RELISTED),
        5000,
        'the watch to start listing again',
      );

      const stopping = watch.stop();
      release?.();
      await stopping;
      // The resumed watcher the listing was to replace is gone from etcd too, and no new one came.
      expect(await etcdWatchers()).toBe(0);
      expect(seen.lists.map(ids)).toEqual([['a']]);
    } finally {
      await close();
    }
  });
});
