import type { ServiceInstance } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';
import { describe, expect, it } from 'vitest';
import { ids, instance } from '../test/wait-for.js';
import { createMemoryRegistry } from './index.js';

function recorder() {
  const lists: (readonly ServiceInstance[])[] = [];
  return { lists, listener: (list: readonly ServiceInstance[]) => lists.push(list) };
}

describe('createMemoryRegistry', () => {
  it('registers, discovers (ordered by id) and deregisters', async () => {
    const registry = createMemoryRegistry();
    await registry.register(instance('Arith', 'b'));
    await registry.register(instance('Arith', 'a'));
    await registry.register(instance('Other', 'c'));
    expect(ids(await registry.discover('Arith'))).toEqual(['a', 'b']);
    await registry.deregister(instance('Arith', 'b'));
    expect(ids(await registry.discover('Arith'))).toEqual(['a']);
    expect(await registry.discover('Missing')).toEqual([]);
    await registry.deregister(instance('Arith', 'unknown'));
  });

  it('stores a frozen copy with only the contract fields and default weight', async () => {
    const registry = createMemoryRegistry();
    const input = { ...instance('Arith', 'a'), extra: 1 } as ServiceInstance;
    const { weight: _weight, ...noWeight } = input;
    await registry.register(noWeight as ServiceInstance);
    const [stored] = await registry.discover('Arith');
    expect(stored).toEqual(instance('Arith', 'a'));
    expect(Object.isFrozen(stored)).toBe(true);
  });

  it('delivers the full list asynchronously right after watch(), then once per change', async () => {
    const registry = createMemoryRegistry();
    await registry.register(instance('Arith', 'a'));
    const { lists, listener } = recorder();
    const watch = registry.watch('Arith', listener);
    expect(lists).toEqual([]);
    await Promise.resolve();
    expect(lists.map(ids)).toEqual([['a']]);
    await registry.register(instance('Arith', 'b'));
    expect(lists.map(ids)).toEqual([['a'], ['a', 'b']]);
    await registry.register(instance('Other', 'x'));
    await registry.deregister(instance('Arith', 'a'));
    expect(lists.map(ids)).toEqual([['a'], ['a', 'b'], ['b']]);
    await watch.stop();
    await registry.register(instance('Arith', 'c'));
    await Promise.resolve();
    expect(lists).toHaveLength(3);
  });

  it('delivers an empty first list for an unknown service and coalesces a burst into one delivery', async () => {
    const registry = createMemoryRegistry();
    const { lists, listener } = recorder();
    registry.watch('Arith', listener);
    await Promise.resolve();
    expect(lists).toEqual([[]]);
    await Promise.all(Array.from({ length: 100 }, (_, i) => registry.register(instance('Arith', `i${i}`))));
    expect(lists).toHaveLength(2);
    expect(lists[1]).toHaveLength(100);
  });

  it('replaces an instance registered again under the same id, also across service names', async () => {
    const registry = createMemoryRegistry();
    const arith = recorder();
    const other = recorder();
    registry.watch('Arith', arith.listener);
    registry.watch('Other', other.listener);
    await registry.register(instance('Arith', 'a', 4000));
    await registry.register(instance('Arith', 'a', 4000));
    await registry.register(instance('Arith', 'a', 4001));
    expect(arith.lists.map((l) => l.map((i) => i.port))).toEqual([[4000], [4001]]);
    await registry.register(instance('Other', 'a', 4001));
    expect(arith.lists.at(-1)).toEqual([]);
    expect(ids(other.lists.at(-1))).toEqual(['a']);
  });

  it('keeps watching when a listener throws, reporting the error to onError', async () => {
    const registry = createMemoryRegistry();
    const errors: Error[] = [];
    let calls = 0;
    registry.watch(
      'Arith',
      () => {
        calls++;
        throw new Error('listener bug');
      },
      (error) => errors.push(error),
    );
    await Promise.resolve();
    await registry.register(instance('Arith', 'a'));
    expect(calls).toBe(2);
    expect(errors.map((e) => e.message)).toEqual(['listener bug', 'listener bug']);
  });

  it('rejects invalid instances with InvalidArgument', async () => {
    const registry = createMemoryRegistry();
    const bad: unknown[] = [
      { ...instance('Arith', ''), id: '' },
      instance('A/B', 'a'),
      { ...instance('Arith', 'a'), port: 0 },
      { ...instance('Arith', 'a'), port: 1.5 },
      { ...instance('Arith', 'a'), weight: 0 },
      { ...instance('Arith', 'a'), host: '' },
      { ...instance('Arith', 'a'), metadata: { n: 1 } },
      null,
    ];
    for (const value of bad) {
      const error = await registry.register(value as ServiceInstance).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RpcError);
      expect((error as RpcError).code).toBe(Code.InvalidArgument);
    }
    expect(await registry.discover('Arith')).toEqual([]);
  });

  it('checks service names and deregister input as the etcd registry does (InvalidArgument)', async () => {
    const registry = createMemoryRegistry();
    const invalid = expect.objectContaining({ code: Code.InvalidArgument });
    expect(() => registry.watch('A/B', () => undefined)).toThrow(invalid);
    expect(() => registry.watch('', () => undefined)).toThrow(invalid);
    await expect(registry.discover('A/B')).rejects.toMatchObject({ code: Code.InvalidArgument });
    await expect(registry.discover(undefined as unknown as string)).rejects.toMatchObject({
      code: Code.InvalidArgument,
    });
    await expect(registry.deregister(null as unknown as ServiceInstance)).rejects.toMatchObject({
      code: Code.InvalidArgument,
    });
    await expect(registry.deregister({} as ServiceInstance)).rejects.toMatchObject({
      code: Code.InvalidArgument,
    });
  });

  it('close() removes everything, ends watches and refuses further use', async () => {
    const registry = createMemoryRegistry();
    const { lists, listener } = recorder();
    registry.watch('Arith', listener);
    await registry.register(instance('Arith', 'a'));
    await registry.close();
    await Promise.resolve();
    expect(lists.map(ids)).toEqual([['a']]);
    await expect(registry.register(instance('Arith', 'b'))).rejects.toMatchObject({
      code: Code.FailedPrecondition,
    });
    await expect(registry.discover('Arith')).rejects.toMatchObject({ code: Code.FailedPrecondition });
    expect(() => registry.watch('Arith', listener)).toThrow(RpcError);
    await registry.close();
  });
});
