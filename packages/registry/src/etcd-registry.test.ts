import type { Registry, ServiceInstance } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';
import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { useEtcd } from '../../../tooling/testing/use-etcd.js';
import { ids, instance, waitFor } from '../test/wait-for.js';
import { createEtcdRegistry, type RegistryLogger } from './index.js';

const etcd = useEtcd();
let rawClient: Etcd3 | undefined;
/** A plain etcd3 client on this file's etcd, to look at the stored keys. */
const raw = () => (rawClient ??= new Etcd3({ hosts: etcd.endpoint }));
const open: Registry[] = [];
let prefixSeq = 0;
let prefix = '';

/** A registry on this file's etcd with the test's own prefix, closed after the test. */
function registry(
  options: { ttlSeconds?: number; callTimeoutMs?: number; logger?: RegistryLogger } = {},
): Registry {
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

  it('a deregister or close during a move to another service leaves no key of either name behind', async () => {
    const r = registry({ ttlSeconds: 30 });
    await r.register(instance('Arith', 'a'));
    const moving = r.register(instance('Other', 'a')).catch((e: unknown) => e);
    await r.deregister(instance('Other', 'a'));
    await moving;
    expect(await raw().getAll().prefix(`${prefix}/`).keys()).toEqual([]);

    const c = registry({ ttlSeconds: 30 });
    await c.register(instance('Arith', 'b'));
    const movingOnClose = c.register(instance('Other', 'b')).catch((e: unknown) => e);
    await c.close();
    await movingOnClose;
    expect(await raw().getAll().prefix(`${prefix}/`).keys()).toEqual([]);
  });

  it('registers again, on a new lease, when its lease is revoked behind its back', async () => {
    const messages: string[] = [];
    const logger: RegistryLogger = {
      info: (_details, message) => messages.push(message),
      warn: (_details, message) => messages.push(message),
    };
    const r = registry({ ttlSeconds: 1, logger });
    await r.register(instance('Arith', 'a'));
    const seen = recorder();
    registry().watch('Arith', seen.listener);
    await waitFor(() => ids(seen.last()).join() === 'a', 2000, 'the watcher to see a');
    const leaseOf = async () => (await raw().get(`${prefix}/Arith/a`).exec()).kvs[0]?.lease;
    const lease = await leaseOf();
    await raw().leaseClient.leaseRevoke({ ID: lease as string });
    await waitFor(() => seen.last()?.length === 0, 1000, 'a to go with its lease');
    // The next keepalive (every TTL/3) hears that the lease is gone.
    const took = await waitFor(() => ids(seen.last()).join() === 'a', 2000, 'a to come back');
    console.log(`lease revoked by someone else: registered again after ${took} ms`);
    expect(await leaseOf()).not.toBe(lease);
    expect(messages).toContain('etcd registry: lease lost, registering again');
    await r.deregister(instance('Arith', 'a'));
    await waitFor(() => seen.last()?.length === 0, 1000, 'a to go after deregister');
  });

  it('a logger that throws changes nothing: the lost lease is registered again, odd values are still ignored', async () => {
    let calls = 0;
    const logger: RegistryLogger = {
      info: () => {
        calls++;
        throw new Error('log sink closed');
      },
      warn: () => {
        calls++;
        throw new Error('log sink closed');
      },
    };
    const r = registry({ ttlSeconds: 1, logger });
    await r.register(instance('Arith', 'a'));
    const seen = recorder();
    r.watch('Arith', seen.listener, seen.onError);
    await waitFor(() => ids(seen.last()).join() === 'a', 2000, 'the watcher to see a');
    await raw().put(`${prefix}/Arith/junk`).value('not json');
    const leaseOf = async () => (await raw().get(`${prefix}/Arith/a`).exec()).kvs[0]?.lease;
    const lease = await leaseOf();
    await raw().leaseClient.leaseRevoke({ ID: lease as string });
    await waitFor(() => seen.last()?.length === 0, 1000, 'a to go with its lease');
    await waitFor(() => ids(seen.last()).join() === 'a', 2000, 'a to come back');
    expect(await leaseOf()).not.toBe(lease);
    expect(calls).toBeGreaterThanOrEqual(2); // the ignored value and the lost lease were logged (and threw)
    expect(seen.errors).toEqual([]);
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

  it('ignores, and logs, values whose id or name differ from their key, and huge ones', async () => {
    const warnings: { key: unknown; message: string; size: number }[] = [];
    const logger: RegistryLogger = {
      info: () => undefined,
      warn: (details, message) =>
        warnings.push({ key: details.key, message, size: JSON.stringify(details).length }),
    };
    const r = registry({ logger });
    await r.register(instance('Arith', 'a'));
    // A copy of a under another key would list a twice; an instance of Other is not one of Arith's.
    await raw()
      .put(`${prefix}/Arith/copy-of-a`)
      .value(JSON.stringify(instance('Arith', 'a')));
    await raw()
      .put(`${prefix}/Arith/o`)
      .value(JSON.stringify(instance('Other', 'o')));
    await raw()
      .put(`${prefix}/Arith/huge`)
      .value(`{"id":"${'x'.repeat(1_000_000)}`);
    const bad = [`${prefix}/Arith/copy-of-a`, `${prefix}/Arith/huge`, `${prefix}/Arith/o`];
    expect(ids(await r.discover('Arith'))).toEqual(['a']);
    expect(warnings.map((w) => w.key).sort()).toEqual(bad);
    const seen = recorder();
    r.watch('Arith', seen.listener);
    await waitFor(() => seen.lists.length === 1, 2000, 'first delivery');
    expect(ids(seen.last())).toEqual(['a']);
    await raw()
      .put(`${prefix}/Arith/y`)
      .value(JSON.stringify(instance('Arith', 'not-y')));
    await r.register(instance('Arith', 'b'));
    await waitFor(() => ids(seen.last()).join() === 'a,b', 1000, 'b');
    expect(seen.lists.map((l) => ids(l).join())).toEqual(['a', 'a,b']);
    expect(warnings.map((w) => w.key)).toContain(`${prefix}/Arith/y`);
    // A log line names the key; it never carries the value.
    expect(Math.max(...warnings.map((w) => w.size))).toBeLessThan(1000);
  });

  it('a throwing listener and onError do not disturb the watch; the error is rethrown on its own', async () => {
    const messages: string[] = [];
    const logger: RegistryLogger = {
      info: () => undefined,
      warn: (_details, message) => messages.push(message),
    };
    const rethrown: unknown[] = [];
    // Catches the rethrow (an uncaught exception by design) instead of letting it fail the run.
    const microtask = vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((callback) => {
      try {
        callback();
      } catch (error) {
        rethrown.push(error);
      }
    });
    try {
      const r = registry({ logger });
      await r.register(instance('Arith', 'a'));
      const lists: string[] = [];
      r.watch(
        'Arith',
        (list) => {
          lists.push(ids(list).join());
          if (lists.length === 1) throw new Error('listener bug');
        },
        (error) => {
          throw new Error(`onError bug after ${error.message}`);
        },
      );
      await waitFor(() => rethrown.length === 1, 2000, 'the onError error to be rethrown');
      expect((rethrown[0] as Error).message).toBe('onError bug after listener bug');
      await r.register(instance('Arith', 'b'));
      await waitFor(() => lists.at(-1) === 'a,b', 1000, 'b');
      expect(lists).toEqual(['a', 'a,b']);
      expect(messages).toEqual([]);
    } finally {
      microtask.mockRestore();
    }
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

  it('rejects a deregister without an instance id with InvalidArgument', async () => {
    const r = registry();
    await expect(r.deregister(null as unknown as ServiceInstance)).rejects.toMatchObject({
      code: Code.InvalidArgument,
    });
    await expect(r.deregister({ name: 'Arith' } as ServiceInstance)).rejects.toMatchObject({
      code: Code.InvalidArgument,
    });
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
