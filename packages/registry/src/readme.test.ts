import { expect, it, vi } from 'vitest';
import { readReadmeSnippet } from '../../../tooling/testing/readme-snippet.js';
import { createMemoryRegistry } from './index.js';

const README = new URL('../README.md', import.meta.url);

it('README snippet runs and prints what its comments say', async () => {
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  try {
    // #region readme
    const registry = createMemoryRegistry(); // or createEtcdRegistry({ endpoints: ['etcd://127.0.0.1:2379'] })

    const watch = registry.watch('Arith', (instances) => {
      console.log(instances.map((i) => `${i.host}:${i.port}`)); // ['127.0.0.1:4000']
    });
    await registry.register({
      id: 'Arith@127.0.0.1:4000',
      name: 'Arith',
      host: '127.0.0.1',
      port: 4000,
      weight: 1,
      metadata: { zone: 'eu-1' },
    });
    console.log((await registry.discover('Arith')).length); // 1

    await watch.stop();
    await registry.close(); // deregisters what this registry registered
    // #endregion readme
    expect(log.mock.calls).toEqual([[['127.0.0.1:4000']], [1]]);
  } finally {
    log.mockRestore();
  }
});

it('README shows exactly the snippet this test runs', () => {
  const { imports, snippet, region } = readReadmeSnippet(README, import.meta.url, 1);
  expect(imports).toEqual(["import { createMemoryRegistry } from '@mini-rpc/registry';"]);
  expect(snippet).toBe(region);
});
