import type { ServiceInstance } from '@mini-rpc/protocol';
import { describe, expect, it } from 'vitest';
import { useEtcdCluster } from '../../../tooling/testing/use-etcd.js';
import { createEtcdRegistry } from '../src/index.js';
import { ids, instance, waitFor } from './wait-for.js';

const cluster = useEtcdCluster(3);

describe('a 3-member etcd cluster', () => {
  it('keeps registrations, calls and watches working while each member in turn is killed', async () => {
    const endpoints = cluster.endpoints.map((e) => e.replace('http://', 'etcd://')).join(',');
    const registrant = createEtcdRegistry({ endpoints, ttlSeconds: 2, callTimeoutMs: 500 });
    const watching = createEtcdRegistry({ endpoints, callTimeoutMs: 500 });
    const lists: (readonly ServiceInstance[])[] = [];
    try {
      await registrant.register(instance('Svc', 'a'));
      watching.watch('Svc', (list) => lists.push(list));
      await waitFor(() => ids(lists.at(-1)).join() === 'a', 2000, 'the watcher to see a');
      for (const [i, member] of cluster.members.entries()) {
        await member.kill('SIGKILL');
        // Calls made while the others elect a new leader fail (Unavailable): what the registry's own loops
        // and its callers retry. Once there is a leader, whichever member the watch stream, the keepalive
        // or a call was using, the others take over.
        await cluster.waitLeader();
        await registrant.register(instance('Svc', `b${i}`));
        await waitFor(() => ids(lists.at(-1)).includes(`b${i}`), 3000, `the watcher to see b${i}`);
        await registrant.deregister(instance('Svc', `b${i}`));
        await waitFor(() => !ids(lists.at(-1)).includes(`b${i}`), 3000, `the watcher to see b${i} go`);
        await member.restart();
        // Two members left must be able to elect a leader when the next one is killed (see waitConnected).
        await cluster.waitConnected();
      }
      // The instance whose lease was kept alive through all of it never left a watcher's list.
      expect(lists.every((list) => ids(list).includes('a'))).toBe(true);
      expect(ids(await watching.discover('Svc'))).toEqual(['a']);
    } finally {
      await Promise.all([watching.close(), registrant.close()]);
    }
  });
});
