import { afterAll, beforeAll } from 'vitest';
import { type EtcdCluster, type EtcdServer, startEtcd, startEtcdCluster } from './etcd-server.js';

/**
 * Registers `beforeAll`/`afterAll` hooks that start and stop a resource, and returns a getter for it. A start
 * that fails (e.g. etcd not installed) makes every test that uses the resource FAIL with that error — a
 * failing `beforeAll` would only mark the tests skipped.
 */
function useResource<T extends { stop(): Promise<void> }>(start: () => Promise<T>): () => T {
  let value: T | undefined;
  let failure: unknown;
  beforeAll(async () => {
    try {
      value = await start();
    } catch (error) {
      failure = error;
    }
  });
  afterAll(async () => {
    await value?.stop();
  });
  return () => {
    if (failure !== undefined) throw failure;
    if (value === undefined) throw new Error('etcd was not started: use it inside tests only');
    return value;
  };
}

/** This file's own single-member etcd (started before its tests, stopped and removed after them). */
export function useEtcd(): EtcdServer {
  const get = useResource(startEtcd);
  return {
    get clientPort() {
      return get().clientPort;
    },
    get endpoint() {
      return get().endpoint;
    },
    get running() {
      return get().running;
    },
    kill: (signal) => get().kill(signal),
    restart: () => get().restart(),
    stop: () => get().stop(),
  };
}

/** This file's own etcd cluster of `size` members, all connected before its tests start. */
export function useEtcdCluster(size: number): EtcdCluster {
  const get = useResource(async () => {
    const cluster = await startEtcdCluster(size);
    try {
      await cluster.waitConnected();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  });
  return {
    get members() {
      return get().members;
    },
    get endpoints() {
      return get().endpoints;
    },
    waitConnected: () => get().waitConnected(),
    waitLeader: () => get().waitLeader(),
    stop: () => get().stop(),
  };
}
