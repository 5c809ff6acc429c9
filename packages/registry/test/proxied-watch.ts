import { createEtcdRegistry } from '../src/index.js';
import type { TcpProxy } from './tcp-proxy.js';
import { instance, waitFor, watchRecorder } from './wait-for.js';

/**
 * Two registries on one etcd: `owner`, straight to it, has registered instance `a` of `Svc`; `watching`
 * reaches etcd only through `proxy` (so a test can cut it off alone) and watches `Svc` into `seen`, which
 * has seen `a`. `cutOff()` blocks the proxy and waits until the watch has noticed; `close()` closes both.
 */
export async function watchThroughProxy(
  etcdEndpoint: string,
  proxy: TcpProxy,
  prefix: string,
  callTimeoutMs?: number,
) {
  const owner = createEtcdRegistry({ endpoints: etcdEndpoint, prefix, ttlSeconds: 30 });
  const seen = watchRecorder();
  const watching = createEtcdRegistry({
    endpoints: `etcd://127.0.0.1:${proxy.port}`,
    prefix,
    ...(callTimeoutMs === undefined ? {} : { callTimeoutMs }),
    logger: seen.logger,
  });
  const close = async (): Promise<void> => {
    await Promise.all([watching.close(), owner.close()]);
  };
  try {
    await owner.register(instance('Svc', 'a'));
    const watch = watching.watch('Svc', seen.listener, seen.onError);
    await waitFor(() => seen.last() === 'a', 2000, 'the watcher to see a');
    return {
      owner,
      seen,
      watch,
      close,
      async cutOff(): Promise<void> {
        proxy.block();
        await waitFor(() => seen.errors.length > 0, 3000, 'the watcher to notice it is cut off');
      },
    };
  } catch (error) {
    await close();
    throw error;
  }
}
