import { type ChildProcessByStdio, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { ServiceInstance } from '@mini-rpc/protocol';
import { describe, expect, it } from 'vitest';
import { useEtcd } from '../../../tooling/testing/use-etcd.js';
import { createEtcdRegistry } from '../src/index.js';
import { ids, waitFor } from './wait-for.js';

const etcd = useEtcd();

/** Runs test/fixtures/registrant.mjs (on the built dist) and collects its stdout. */
function registrant(id: string, ttlSeconds: number, mode: 'idle' | 'close') {
  const script = new URL('./fixtures/registrant.mjs', import.meta.url).pathname;
  const child: ChildProcessByStdio<null, Readable, null> = spawn(
    process.execPath,
    [script, etcd.endpoint, id, String(ttlSeconds), mode],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const out = { text: '', exited: false };
  child.stdout.on('data', (chunk: Buffer) => {
    out.text += chunk.toString();
  });
  child.once('exit', () => {
    out.exited = true;
  });
  return { child, out };
}

describe('registrant processes', () => {
  it('one killed with SIGKILL disappears from watchers within TTL + 2 s', async () => {
    const ttlSeconds = 1;
    const watcher = createEtcdRegistry({ endpoints: etcd.endpoint });
    const lists: (readonly ServiceInstance[])[] = [];
    watcher.watch('Crashy', (list) => lists.push(list));
    const { child, out } = registrant('crashy-1', ttlSeconds, 'idle');
    try {
      await waitFor(() => out.text.includes('registered'), 5000, 'the child to register');
      await waitFor(() => ids(lists.at(-1)).join() === 'crashy-1', 2000, 'the watcher to see the child');
      child.kill('SIGKILL');
      await waitFor(() => out.exited, 2000, 'the child to exit');
      const took = await waitFor(
        () => lists.at(-1)?.length === 0,
        (ttlSeconds + 2) * 1000,
        'the child to vanish',
      );
      console.log(`registrant killed: gone from the watcher after ${took} ms (TTL ${ttlSeconds} s)`);
      expect(await watcher.discover('Crashy')).toEqual([]);
    } finally {
      child.kill('SIGKILL');
      await watcher.close();
    }
  });

  it('one that closes its registry is gone at once and its process ends by itself', async () => {
    const ttlSeconds = 30;
    const { child, out } = registrant('closer-1', ttlSeconds, 'close');
    try {
      await waitFor(() => out.text.includes('closed'), 5000, 'the child to close its registry');
      const watcher = createEtcdRegistry({ endpoints: etcd.endpoint });
      expect(await watcher.discover('Crashy')).toEqual([]);
      await watcher.close();
      // No lease keepalive, watch stream or retry timer may keep the event loop alive after close().
      await waitFor(() => out.exited, 2000, 'the child process to exit on its own');
      expect(child.exitCode).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('one paused (SIGSTOP) for longer than its TTL registers again by itself once it resumes', async () => {
    const ttlSeconds = 1;
    const watcher = createEtcdRegistry({ endpoints: etcd.endpoint });
    const lists: (readonly ServiceInstance[])[] = [];
    watcher.watch('Crashy', (list) => lists.push(list));
    const { child, out } = registrant('paused-1', ttlSeconds, 'idle');
    const listed = () => ids(lists.at(-1)).includes('paused-1');
    try {
      await waitFor(() => out.text.includes('registered'), 5000, 'the child to register');
      await waitFor(listed, 2000, 'the watcher to see the child');
      child.kill('SIGSTOP');
      await waitFor(() => !listed(), (ttlSeconds + 2) * 1000, 'the paused child’s lease to expire');
      child.kill('SIGCONT');
      const took = await waitFor(listed, 3000, 'the resumed child to register again');
      console.log(`registrant paused past its TTL: back ${took} ms after it resumed`);
    } finally {
      child.kill('SIGKILL');
      await watcher.close();
    }
  });
});
