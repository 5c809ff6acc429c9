import type { Registry, ServiceInstance } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';
import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { useEtcd } from '../../../tooling/testing/use-etcd.js';
import { ids, instance, waitFor } from '../test/wait-for.js';
import { createEtcdRegistry } from './index.js';

const etcd = useEtcd();
let rawClient: Etcd3 | undefined;
/** A plain etcd3 client on this file's etcd, to look at the stored keys. */
const raw = () => (rawClient ??= new Etcd3({ hosts: etcd.endpoint }));
const open: Registry[] = [];
let prefixSeq = 0;
let prefix = '';

/** A registry on this file's etcd with the test's own prefix, closed after the test. */
function registry(options: { ttlSeconds?: number; callTimeoutMs?: number } = {}): Registry {
  const r = createEtcdRegistry({ endpoints: [`etcd://127.0.0.1:${etcd.clientPort}`], prefix, ...options });
  open.push(r);
  return r;
}

function recorder() {
  const lists: (readonly ServiceInstance[])[] = [];
  const errors: Error[] = [];
  return {
    lists,
    errors,
    last: () => lists.at(-1),
    listener: (list: readonly ServiceInstance[]) => lists.push(list),
    onError: (error: Error) => errors.push(error),
  };
}

afterAll(() => {
  rawClient?.close();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close()));
  prefix = `/test-${++prefixSeq}`;
});

describe('createEtcdRegistry', () => {
  it('registers under <prefix>/<name>/<id> as JSON, discovers and deregisters', async () => {
    prefix = '/layout';
    const r = registry();
    await r.register(instance('Arith', 'b', 4001, { zone: 'z1' }));
    await r.register(instance('Arith', 'a', 4000));
    await r.register(instance('Other', 'c'));
    const stored = await raw().get('/layout/Arith/b').string();
    expect(JSON.parse(stored ?? 'null')).toEqual(instance('Arith', 'b', 4001, { zone: 'z1' }));
    expect(await r.discover('Arith')).toEqual([
      instance('Arith', 'a', 4000),
      instance('Arith', 'b', 4001, { zone: 'z1' }),
    ]);
    await r.deregister(instance('Arith', 'b'));
    expect(ids(await r.discover('Arith'))).toEqual(['a']);
    expect(await r.discover('Missing')).toEqual([]);
    await r.deregister(instance('Arith', 'never-registered'));
  });

  it('delivers the current list first, and a new instance within 1 s', async () => {
    const owner = registry();
    await owner.register(instance('Arith', 'a'));
    const watcher = registry();
    const seen = recorder();
    watcher.watch('Arith', seen.listener, seen.onError);
    await waitFor(() => seen.lists.length === 1, 2000, 'first delivery');
    expect(ids(seen.last())).toEqual(['a']);
    const started = Date.now();
    await owner.register(instance('Arith', 'b'));
    const took = await waitFor(() => ids(seen.last()).length === 2, 1000, 'b to reach the watcher');
    expect(ids(seen.last())).toEqual(['a', 'b']);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(took).toBeLessThan(1000);
    expect(seen.errors).toEqual([]);
  });

  it('deregister and close revoke at once: watchers see the instance go within 1 s', async () => {
    const ttlSeconds = 30; // far longer than the bound: only a revoke can be this fast
    const a = registry({ ttlSeconds });
    const b = registry({ ttlSeconds });
    await a.register(instance('Arith', 'a'));
    await b.register(instance('Arith', 'b'));
    const seen = recorder();
    registry().watch('Arith', seen.listener);
    await waitFor(() => ids(seen.last()).length === 2, 2000, 'both instances');
    let started = Date.now();
    await a.deregister(instance('Arith', 'a'));
    await waitFor(() => ids(seen.last()).join() === 'b', 1000, 'a to go after deregister');
    const afterDeregister = Date.now() - started;
    started = Date.now();
    await b.close();
    await waitFor(() => seen.last()?.length === 0, 1000, 'b to go after close');
    console.log(`revoke to watcher: ${afterDeregister} ms (deregister), ${Date.now() - started} ms (close)`);
    expect(await raw().getAll().prefix(`${prefix}/Arith/`).keys()).toEqual([]);
  });

  it('replaces an instance registered again (same id), also when it moves to another service', async () => {
    const r = registry();
    const arith = recorder();
    const other = recorder();
    r.watch('Arith', arith.listener);
    r.watch('Other', other.listener);
    await r.register(instance('Arith', 'a', 4000));
    await r.register(instance('Arith', 'a', 4001));
    await waitFor(() => arith.last()?.[0]?.port === 4001, 1000, 'the new port');
    await r.register(instance('Other', 'a', 4001));
    await waitFor(() => ids(other.last()).join() === 'a' && arith.last()?.length === 0, 1000, 'the move');
    expect(await raw().getAll().prefix(`${prefix}/`).keys()).toEqual([`${prefix}/Other/a`]);
  });

  it('handles many registrations at once, each on its own lease', async () => {
    const r = registry();
    const seen = recorder();
    registry().watch('Arith', seen.listener);
    const all = Array.from({ length: 100 }, (_, i) =>
      instance('Arith', `i${String(i).padStart(3, '0')}`, 5000 + i),
    );
    await Promise.all(all.map((i) => r.register(i)));
    expect(ids(await r.discover('Arith'))).toEqual(all.map((i) => i.id));
    await waitFor(() => seen.last()?.length === 100, 2000, 'all 100 at the watcher');
    const leases = new Set(
      (await raw().getAll().prefix(`${prefix}/Arith/`).exec()).kvs.map((kv) => kv.lease),
    );
    expect(leases.size).toBe(100);
    await Promise.all(all.slice(0, 50).map((i) => r.deregister(i)));
    await waitFor(() => seen.last()?.length === 50, 2000, '50 left');
    await r.close();
    await waitFor(() => seen.last()?.length === 0, 2000, 'none left after close');
  });

  it('deregister removes an instance that another registry object registered', async () => {
    const owner = registry({ ttlSeconds: 30 });
    await owner.register(instance('Arith', 'a'));
    await registry().deregister(instance('Arith', 'a'));
    expect(await owner.discover('Arith')).toEqual([]);
  });

  it('ignores values under the prefix that are not service instances', async () => {
    const r = registry();
    await raw().put(`${prefix}/Arith/junk`).value('not json');
    await raw()
      .put(`${prefix}/Arith/partial`)
      .value(JSON.stringify({ id: 'partial', name: 'Arith' }));
    await r.register(instance('Arith', 'a'));
    expect(ids(await r.discover('Arith'))).toEqual(['a']);
    const seen = recorder();
    r.watch('Arith', seen.listener);
    await waitFor(() => seen.lists.length === 1, 2000, 'first delivery');
    expect(ids(seen.last())).toEqual(['a']);
    await raw().put(`${prefix}/Arith/junk2`).value('{');
    await r.register(instance('Arith', 'b'));
    await waitFor(() => ids(seen.last()).join() === 'a,b', 1000, 'b');
  });

  it('stops a watch: no delivery after stop() resolves', async () => {
    const r = registry();
    const seen = recorder();
    const watch = r.watch('Arith', seen.listener);
    await waitFor(() => seen.lists.length === 1, 2000, 'first delivery');
    await watch.stop();
    await r.register(instance('Arith', 'a'));
    const probe = recorder();
    r.watch('Arith', probe.listener);
    await waitFor(() => ids(probe.last()).join() === 'a', 2000, 'a probe watcher to see a');
    expect(seen.lists).toEqual([[]]);
  });

  it('rejects with Unavailable or DeadlineExceeded, within the call timeout, when etcd is unreachable', async () => {
    const r = createEtcdRegistry({ endpoints: 'etcd://127.0.0.1:1', callTimeoutMs: 300 });
    open.push(r);
    const started = Date.now();
    const error = await r.register(instance('Arith', 'a')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RpcError);
    expect([Code.Unavailable, Code.DeadlineExceeded]).toContain((error as RpcError).code);
    await expect(r.discover('Arith')).rejects.toBeInstanceOf(RpcError);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('validates options, names and instances with InvalidArgument; refuses use after close', async () => {
    const bad = (make: () => unknown) =>
      expect(make).toThrow(expect.objectContaining({ code: Code.InvalidArgument }));
    bad(() => createEtcdRegistry({ endpoints: [] }));
    bad(() => createEtcdRegistry({ endpoints: 'redis://a:1' }));
    bad(() => createEtcdRegistry({ endpoints: 'a:1', ttlSeconds: 0 }));
    bad(() => createEtcdRegistry({ endpoints: 'a:1', callTimeoutMs: 1.5 }));
    const r = registry();
    bad(() => r.watch('A/B', () => undefined));
    await expect(r.discover('')).rejects.toMatchObject({ code: Code.InvalidArgument });
    await expect(r.register({ ...instance('Arith', 'a'), port: 70_000 })).rejects.toMatchObject({
      code: Code.InvalidArgument,
    });
    await r.close();
    await expect(r.register(instance('Arith', 'a'))).rejects.toMatchObject({ code: Code.FailedPrecondition });
    expect(() => r.watch('Arith', () => undefined)).toThrow(
      expect.objectContaining({ code: Code.FailedPrecondition }),
    );
  });
});
