import { readFileSync } from 'node:fs';
import { expect, it, vi } from 'vitest';
import { createMemoryRegistry } from './index.js';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const SELF = readFileSync(new URL(import.meta.url), 'utf8');

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
  const region = /\/\/ #region readme\n([\s\S]*?)\n\s*\/\/ #endregion readme/.exec(SELF)?.[1] ?? '';
  const body = region.replace(/^ {4}/gm, '');
  const snippet = /```ts\n([\s\S]*?)\n```/.exec(README)?.[1] ?? '';
  const [importLine, ...rest] = snippet.split('\n');
  expect(importLine).toBe("import { createMemoryRegistry } from '@mini-rpc/registry';");
  expect(rest.join('\n').trim()).toBe(body.trim());
});
