import type { Registry, RegistryWatch, ServiceInstance, WatchListener } from '@mini-rpc/protocol';

/**
 * A registry the test drives: `deliver` a list (anything, to play a broken registry), `fail` the watch.
 * `watch` and `stop` are those of a well-behaved registry unless the test replaces them.
 */
export function manualRegistry(
  options: { watch?: () => RegistryWatch | Promise<RegistryWatch>; stop?: () => Promise<void> } = {},
) {
  let listener: WatchListener | undefined;
  let onError: ((error: Error) => void) | undefined;
  const counts = { watches: 0, stops: 0 };
  const registry = {
    register: async () => {},
    deregister: async () => {},
    discover: async () => [],
    close: async () => {},
    watch(_name: string, l: WatchListener, e?: (error: Error) => void) {
      counts.watches++;
      listener = l;
      onError = e;
      if (options.watch !== undefined) return options.watch();
      return {
        stop: () => {
          counts.stops++;
          return options.stop?.() ?? Promise.resolve();
        },
      };
    },
  } as Registry;
  return {
    registry,
    counts,
    deliver: (list: unknown) => listener?.(list as ServiceInstance[]),
    fail: (error: Error) => onError?.(error),
  };
}
