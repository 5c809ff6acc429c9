import type { ServiceInstance } from '@mini-rpc/protocol';
import { Etcd3 } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { useEtcd } from '../../../tooling/testing/use-etcd.js';
import { createEtcdRegistry, type RegistryLogger } from '../src/index.js';
import { ids, instance, waitFor } from './wait-for.js';

const etcd = useEtcd();

/** The lease that owns `key` now, read with a fresh client (a client that saw the outage may still back off). */
async function leaseOf(key: string): Promise<string | undefined> {
  const raw = new Etcd3({ hosts: etcd.endpoint, defaultCallOptions: { deadline: Date.now() + 2000 } });
  try {
    return (await raw.get(key).exec()).kvs[0]?.lease;
  } finally {
    raw.close();
  }
}

function memoryLogger() {
  const messages: string[] = [];
  const logger: RegistryLogger = {
    info: (_details, message) => messages.push(message),
    warn: (_details, message) => messages.push(message),
  };
  return { messages, logger, saw: (text: string) => messages.some((m) => m.includes(text)) };
}

describe('etcd killed and restarted on the same data dir', () => {
  it('keeps the last list while down, resumes the watch, and registrations come back by themselves', async () => {
    const ttlSeconds = 1;
    const endpoints = [`etcd://127.0.0.1:${etcd.clientPort}`];
    const log = memoryLogger();
    const registrant = createEtcdRegistry({ endpoints, ttlSeconds, callTimeoutMs: 500, logger: log.logger });
    const watching = createEtcdRegistry({ endpoints, callTimeoutMs: 500 });
    await registrant.register(instance('Svc', 'a'));
    const deliveries: { at: number; list: readonly ServiceInstance[] }[] = [];
    const errors: Error[] = [];
    const watch = watching.watch(
      'Svc',
      (list) => deliveries.push({ at: Date.now(), list }),
      (error) => errors.push(error),
    );
    try {
      await waitFor(() => ids(deliveries.at(-1)?.list).join() === 'a', 2000, 'the watcher to see a');
      const oldLease = await leaseOf('/mini-rpc/services/Svc/a');
      expect(oldLease).toBeDefined();

      await etcd.kill('SIGKILL');
      // Down for longer than 2 × TTL: the registrant's lease is then lost for sure.
      await waitFor(() => log.saw('lease lost'), 5000, 'the registrant to lose its lease');
      await waitFor(() => errors.length > 0, 2000, 'the watcher to report the outage');
      expect(errors[0]?.message).toMatch(/etcd registry: watch/);
      const restartedAt = Date.now();
      await etcd.restart();

      // A client that saw the outage works again soon (etcd3's default breaker would refuse calls for 5 s).
      const usable = await waitFor(
        () =>
          watching.discover('Svc').then(
            () => true,
            () => false,
          ),
        2000,
        'discover to work again',
      );
      const back = await waitFor(() => log.saw('registered again'), 5000, 'the registrant to register again');
      const newLease = await leaseOf('/mini-rpc/services/Svc/a');
      expect(newLease).toBeDefined();
      expect(newLease).not.toBe(oldLease);

      // The watch resumed: a registration made after the restart reaches it.
      const other = createEtcdRegistry({ endpoints, ttlSeconds: 5, callTimeoutMs: 500 });
      await other.register(instance('Svc', 'b'));
      const resumed = await waitFor(
        () => ids(deliveries.at(-1)?.list).join() === 'a,b',
        3000,
        'the watcher to see b',
      );
      await other.close();
      console.log(
        `etcd restart: discover works ${usable} ms after etcd is healthy, registrant back after ${back} ms more, watch caught up ${resumed} ms after b registered`,
      );

      // While etcd was down, nothing was delivered at all, least of all an empty list.
      expect(deliveries.filter((d) => d.at < restartedAt).map((d) => ids(d.list))).toEqual([['a']]);
    } finally {
      await watch.stop();
      await Promise.all([watching.close(), registrant.close()]);
    }
  });
});
