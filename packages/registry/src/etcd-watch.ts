import type { RegistryWatch, ServiceInstance, WatchListener } from '@mini-rpc/protocol';
import type { Etcd3, IWatchResponse, Watcher } from 'etcd3';
import type { Backoff } from './backoff.js';
import { deliver } from './deliver.js';
import { etcdError } from './etcd-error.js';
import { logIgnoredValue, type RegistryLogger } from './registry-logger.js';
import { byId, parseStoredInstance } from './service-instance.js';

/** What {@link createEtcdWatch} needs. */
export interface EtcdWatchOptions {
  readonly client: Etcd3;
  /** The service followed. */
  readonly name: string;
  /** The key prefix of that service, ending in `/`. */
  readonly keyPrefix: string;
  readonly listener: WatchListener;
  readonly onError: ((error: Error) => void) | undefined;
  readonly logger: RegistryLogger;
  /** Delays between rebuild attempts. */
  readonly backoff: Backoff;
  /** Bound on how long `stop()` waits for etcd to confirm the cancel. */
  readonly stopTimeoutMs: number;
}

interface Stored {
  readonly json: string;
  readonly instance: ServiceInstance;
}

/**
 * Follows one service: lists the prefix, then watches from the list's revision + 1, keeping the instances
 * in a map and delivering the full list after every change. A watcher that etcd cancels (e.g. its start
 * revision was compacted) or that cannot be created is rebuilt, list and watch, with backoff; a watcher
 * whose stream reconnects is rebuilt at once, once per reconnect (see `reconnected`). While etcd is
 * unreachable nothing is delivered, so listeners keep the last list.
 */
class EtcdWatch implements RegistryWatch {
  private readonly instances = new Map<string, Stored>();
  private watcher: Watcher | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  /** Bumped on every rebuild and on stop, so that late answers of an old round are ignored. */
  private round = 0;
  /** The rebuild in flight, if any: `stop()` waits for it, so that the watcher it replaces is cancelled too. */
  private rebuilding: Promise<void> | undefined;
  /** Watchers etcd cancelled ('error'): cancelling one again would wait for an answer that never comes. */
  private readonly dropped = new WeakSet<Watcher>();
  /** What the listener got last; undefined before the first delivery. */
  private delivered: Map<string, Stored> | undefined;
  /** False from the current watcher's 'disconnected' to its next 'connected'. */
  private connected = true;
  /** The cluster and the newest revision this watch has heard of (listing, events), see `reconnected`. */
  private clusterId = '';
  private revision = 0n;

  constructor(private readonly options: EtcdWatchOptions) {
    this.rebuild();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.round++;
    clearTimeout(this.timer);
    const watcher = this.detach();
    if (!watcher && !this.rebuilding) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      // A rebuild in flight sees the new round, attaches nothing and cancels the watcher it replaces.
      Promise.all([watcher?.cancel().catch(() => undefined), this.rebuilding]),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.options.stopTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  /** Lists and watches from there; `replaced` (a watcher that still runs) is cancelled once that is done. */
  private rebuild(replaced?: Watcher): void {
    const rebuilding = this.listAndWatch(replaced).finally(() => {
      if (this.rebuilding === rebuilding) this.rebuilding = undefined;
    });
    this.rebuilding = rebuilding;
  }

  private async listAndWatch(replaced: Watcher | undefined): Promise<void> {
    const round = ++this.round;
    const { client, keyPrefix } = this.options;
    try {
      const listing = await client.getAll().prefix(keyPrefix).exec();
      if (round !== this.round) return;
      this.clusterId = listing.header.cluster_id;
      this.revision = BigInt(listing.header.revision);
      this.instances.clear();
      for (const kv of listing.kvs) this.store(kv.key.toString(), kv.value.toString());
      this.deliver();
      const watcher = client
        .watch()
        .prefix(keyPrefix)
        .startRevision((BigInt(listing.header.revision) + 1n).toString())
        .watcher();
      watcher.on('error', (error) => this.failed(watcher, error));
      watcher.on('data', (response) => this.apply(watcher, response));
      watcher.on('connected', (response) => this.reconnected(watcher, response));
      watcher.on('disconnected', (error) => this.disconnected(watcher, error));
      this.watcher = watcher;
      // Its first 'connected' is not a reconnect: it starts at the listing's revision + 1.
      this.connected = true;
    } catch (error) {
      if (round !== this.round) return;
      this.retry(error);
    } finally {
      // Only now: cancelling the last watcher of etcd3's shared stream closes that stream, and a watcher
      // attached while it closes would be lost with it.
      if (replaced && !this.dropped.has(replaced)) await replaced.cancel().catch(() => undefined);
    }
  }

  private apply(watcher: Watcher, response: IWatchResponse): void {
    if (watcher !== this.watcher) return;
    this.heard(response);
    if (response.events.length === 0) return;
    for (const event of response.events) {
      const key = event.kv.key.toString();
      if (event.type === 'Put') this.store(key, event.kv.value.toString());
      else this.instances.delete(key);
    }
    this.deliver();
  }

  private failed(watcher: Watcher, error: Error): void {
    this.dropped.add(watcher);
    if (watcher !== this.watcher) return;
    // etcd already dropped this watcher (e.g. compaction): nothing to cancel, only to rebuild.
    this.detach();
    this.retry(error);
  }

  /**
   * Lists and watches again after every reconnect instead of trusting etcd3's resume: etcd3 moves a watcher's
   * resume revision to the revision of etcd's create answer before the changes up to it have arrived, so a
   * stream that drops again in that gap resumes past them and they are lost for good — an instance
   * deregistered meanwhile would stay listed (test/watch-reconnect.test.ts). An etcd back without the
   * history this watch had seen (a fresh data dir) or another cluster would skip every change up to our
   * revision too; that case gets a warning. At most one listing per reconnect; the list goes out only if
   * it changed, and the replaced watcher's late events are ignored (`watcher !== this.watcher`).
   */
  private reconnected(watcher: Watcher, response: IWatchResponse): void {
    if (watcher !== this.watcher) return;
    this.options.backoff.reset();
    if (this.connected) return;
    this.connected = true;
    const { cluster_id: clusterId, revision } = response.header;
    const details = {
      prefix: this.options.keyPrefix,
      revision: this.revision.toString(),
      etcdRevision: revision,
    };
    if (clusterId === this.clusterId && BigInt(revision) >= this.revision)
      this.options.logger.info(details, 'etcd registry: watch reconnected, listing and watching again');
    else
      this.options.logger.warn(
        details,
        'etcd registry: etcd is behind the revision this watch had seen (a fresh data dir?), listing and watching again',
      );
    this.rebuild(this.detach());
  }

  /** Notes the newest revision etcd told of (a revision that went back is only handled in `reconnected`). */
  private heard(response: IWatchResponse): void {
    const revision = BigInt(response.header.revision);
    if (revision > this.revision) this.revision = revision;
  }

  private disconnected(watcher: Watcher, error: Error): void {
    if (watcher !== this.watcher || !this.connected) return;
    // etcd3 reconnects by itself, and `reconnected` then lists again; report the outage once, keep the last list.
    this.connected = false;
    this.report(error, 'watch disconnected, listing and watching again when etcd is back');
  }

  private retry(error: unknown): void {
    if (this.stopped) return;
    const delay = this.options.backoff.next();
    this.report(error, 'watch failed, listing and watching again', delay);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.rebuild();
    }, delay);
    this.timer.unref();
  }

  /**
   * Forgets the current watcher; its handlers stay attached but ignore it. The 'error' listener must stay:
   * etcd3 may still emit 'error' on it (a cancelled watcher), and an 'error' nobody listens to ends the process.
   */
  private detach(): Watcher | undefined {
    const watcher = this.watcher;
    this.watcher = undefined;
    return watcher;
  }

  private store(key: string, json: string): void {
    const { name, keyPrefix, logger } = this.options;
    const instance = parseStoredInstance(json, name, key.slice(keyPrefix.length));
    if (instance) this.instances.set(key, { json, instance });
    else {
      this.instances.delete(key);
      logIgnoredValue(logger, key);
    }
  }

  /**
   * Delivers the list if it differs from the last one delivered (or none was): a rebuild that finds what
   * was there, or a delete and put of the same instance in one response (lease replaced), stays silent.
   */
  private deliver(): void {
    if (this.stopped || (this.delivered !== undefined && sameEntries(this.delivered, this.instances))) return;
    this.delivered = new Map(this.instances);
    const list: ServiceInstance[] = [];
    for (const { instance } of this.instances.values()) list.push(instance);
    deliver(this.options.listener, list.sort(byId), this.options.onError);
  }

  private report(error: unknown, message: string, retryInMs?: number): void {
    const rpcError = etcdError('watch', error);
    this.options.logger.warn(
      {
        prefix: this.options.keyPrefix,
        error: rpcError.message,
        ...(retryInMs === undefined ? {} : { retryInMs }),
      },
      `etcd registry: ${message}`,
    );
    const { onError } = this.options;
    if (!onError) return;
    try {
      onError(rpcError);
    } catch (error) {
      // Not inside etcd3's event loop: a throw there would break its reconnect logic.
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}

function sameEntries(a: ReadonlyMap<string, Stored>, b: ReadonlyMap<string, Stored>): boolean {
  if (a.size !== b.size) return false;
  for (const [key, stored] of a) if (b.get(key)?.json !== stored.json) return false;
  return true;
}

/** Starts an etcd watch of one service; the first list comes once etcd answered the initial listing. */
export function createEtcdWatch(options: EtcdWatchOptions): RegistryWatch {
  return new EtcdWatch(options);
}
