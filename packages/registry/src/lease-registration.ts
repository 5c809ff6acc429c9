import { Code, RpcError } from '@mini-rpc/protocol';
import type { Etcd3, Lease } from 'etcd3';
import { EtcdLeaseInvalidError } from 'etcd3';
import type { Backoff } from './backoff.js';
import { etcdError } from './etcd-error.js';
import type { RegistryLogger } from './registry-logger.js';

/** One key kept alive on its own lease, put again on a fresh lease whenever the lease is lost. */
export interface LeaseRegistration {
  readonly key: string;
  /**
   * Puts `value` under the key: on the current lease, or on a newly granted one when there is none (first
   * call, lease lost). Rejects with an RpcError when etcd cannot be reached in time.
   */
  put(value: string): Promise<void>;
  /**
   * Stops the keepalive and the re-register loop, then revokes the lease (etcd deletes the key at once).
   * Rejects with an RpcError when etcd cannot be reached; the key then expires within the TTL.
   */
  stop(): Promise<void>;
}

/** What {@link createLeaseRegistration} needs. */
export interface LeaseRegistrationOptions {
  readonly client: Etcd3;
  readonly key: string;
  readonly ttlSeconds: number;
  readonly logger: RegistryLogger;
  /** Delays between re-register attempts after a lease loss. */
  readonly backoff: Backoff;
}

class EtcdLeaseRegistration implements LeaseRegistration {
  readonly key: string;
  private value = '';
  /** The lease that owns the key now; undefined before start, after a loss and after stop. */
  private lease: Lease | undefined;
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Every operation runs after the previous one, so two leases never race for the key. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: LeaseRegistrationOptions) {
    this.key = options.key;
  }

  put(value: string): Promise<void> {
    return this.serial(async () => {
      if (this.stopped) throw new RpcError(Code.Aborted, 'etcd registry: deregistered while registering');
      this.value = value;
      const lease = this.lease;
      if (lease && !lease.revoked()) {
        try {
          await lease.put(this.key).value(value);
          return;
        } catch (error) {
          // A lease that etcd no longer knows is replaced below; anything else is the caller's error.
          if (!(error instanceof EtcdLeaseInvalidError)) throw etcdError('register', error);
        }
      }
      this.lease = undefined;
      await this.putOnNewLease();
      this.options.backoff.reset();
    });
  }

  stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    return this.serial(async () => {
      const lease = this.lease;
      this.lease = undefined;
      try {
        // Without a live lease (lost, re-registering) the key may still sit on the old one: delete it.
        if (lease) await lease.revoke();
        else await this.options.client.delete().key(this.key);
      } catch (error) {
        throw etcdError('deregister', error);
      }
    });
  }

  private serial(op: () => Promise<void>): Promise<void> {
    const result = this.tail.then(op);
    this.tail = result.catch(() => undefined);
    return result;
  }

  private async putOnNewLease(): Promise<void> {
    const { client, ttlSeconds } = this.options;
    const lease = client.lease(ttlSeconds);
    // Also fires when the grant itself fails; `lost` ignores leases that are not (yet) the current one.
    lease.on('lost', (error) => this.lost(lease, error));
    try {
      await lease.put(this.key).value(this.value);
      if (lease.revoked()) throw new EtcdLeaseInvalidError('lost while registering');
    } catch (error) {
      // Stops the keepalive; if the grant went through, etcd frees the lease (or it expires by itself).
      lease.revoke().catch(() => undefined);
      throw etcdError('register', error);
    }
    this.lease = lease;
  }

  private lost(lease: Lease, error: Error): void {
    if (lease !== this.lease || this.stopped) return;
    this.lease = undefined;
    this.options.logger.warn(
      { key: this.key, error: error.message },
      'etcd registry: lease lost, registering again',
    );
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (this.stopped || this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.serial(() => this.reRegister());
    }, delayMs);
    // The process's own servers keep it alive; a registry retrying alone should not.
    this.timer.unref();
  }

  private async reRegister(): Promise<void> {
    if (this.stopped || this.lease) return;
    try {
      await this.putOnNewLease();
      this.options.backoff.reset();
      this.options.logger.info({ key: this.key }, 'etcd registry: registered again on a new lease');
    } catch (error) {
      const delay = this.options.backoff.next();
      this.options.logger.warn(
        { key: this.key, error: (error as Error).message, retryInMs: delay },
        'etcd registry: register again failed',
      );
      this.schedule(delay);
    }
  }
}

/** Creates a {@link LeaseRegistration}; nothing happens until the first `put()`. */
export function createLeaseRegistration(options: LeaseRegistrationOptions): LeaseRegistration {
  return new EtcdLeaseRegistration(options);
}
