import { Code, RpcError } from '@mini-rpc/protocol';
import type { ConnectOptions } from '@mini-rpc/transport';
import { checkPoolOptions } from './check-options.js';
import { ClientConnection, isRefusal } from './client-connection.js';
import { addressProblem } from './parse-address.js';
import { markUnprocessed } from './unprocessed.js';
import { MAX_TIMER_MS, WaitList } from './wait-list.js';

/**
 * Settings of a connection pool to one address. A value out of its range is a TypeError when the pool (or
 * the client) is created.
 */
export interface PoolOptions {
  /** Most connections open at once, an integer ≥ 1. One multiplexed connection is enough for most loads. Default 1. */
  maxActive?: number;
  /** Most idle connections kept (an idle connection has no call in flight), an integer ≥ 0. Default `maxActive`. */
  maxIdle?: number;
  /** Idle connections beyond `maxIdle`, or any idle longer than this, are closed, ms (> 0; `Infinity`: never). Default 60,000. */
  idleTimeoutMs?: number;
  /** A new connection is opened when every open one carries at least this many calls (≥ 1). Default 128. */
  callsPerConnection?: number;
  /** First reconnect delay after a failed connect, ms (0 … 2^31 − 1); doubles up to `maxBackoffMs`. Default 50. */
  initialBackoffMs?: number;
  /** Longest reconnect delay, ms (0 … 2^31 − 1). Default 2,000. */
  maxBackoffMs?: number;
}

/** Lets the owner of a pool follow its connections (the client's deadline sweep does). */
export interface PoolHooks {
  opened(connection: ClientConnection): void;
  closed(connection: ClientConnection): void;
}

/** Counters of a pool (or the sum over pools). */
export interface PoolStats {
  /** Connections opened. */
  created: number;
  /** Times `get()` returned an already open connection. */
  reused: number;
  /** Connections with calls in flight. */
  active: number;
  /** Open connections without calls. */
  idle: number;
  /** reused ÷ (reused + created): near 1 in a steady workload. */
  reuseRatio: number;
}

/**
 * A pool of multiplexed connections to one address (the seed's ConnPool: factory, maxIdle, maxActive,
 * get/put/close). `get()` returns the least-loaded open connection and opens another only when all carry
 * `callsPerConnection` calls and fewer than `maxActive` exist. Broken connections leave the pool at once;
 * after a failed connect, new connects wait a capped exponential backoff and calls fail fast meanwhile. A
 * server that refuses the client on a connection (GoAway Unauthenticated or PermissionDenied: a rejected
 * client certificate) counts as a failed connect, and its calls fail fast with that code, until a
 * connection opened after the backoff gets an answer.
 */
export class ConnectionPool {
  readonly address: string;
  private readonly connectOptions: ConnectOptions;
  private readonly maxActive: number;
  private readonly maxIdle: number;
  private readonly idleTimeoutMs: number;
  private readonly callsPerConnection: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly open: ClientConnection[] = [];
  /** The connect in progress, if any: shared by every waiter, stopped only by close() or drain(). */
  private connecting: AbortController | undefined;
  private readonly waiters: WaitList<ClientConnection>;
  private backoffMs = 0;
  private retryAt = 0;
  private lastError: RpcError | undefined;
  private closed = false;
  private draining = false;
  private sweeper: NodeJS.Timeout | undefined;
  created = 0;
  reused = 0;

  private readonly hooks: PoolHooks | undefined;

  constructor(connectOptions: ConnectOptions, options: PoolOptions = {}, hooks?: PoolHooks) {
    this.connectOptions = connectOptions;
    this.hooks = hooks;
    this.address = `${connectOptions.host}:${connectOptions.port}`;
    this.waiters = new WaitList(`a connection to ${this.address}`);
    const problem = addressProblem(connectOptions.host, connectOptions.port);
    if (problem !== undefined) throw new TypeError(`ConnectionPool: ${problem}`);
    checkPoolOptions(options);
    this.maxActive = options.maxActive ?? 1;
    this.maxIdle = options.maxIdle ?? this.maxActive;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
    this.callsPerConnection = options.callsPerConnection ?? 128;
    this.initialBackoffMs = options.initialBackoffMs ?? 50;
    this.maxBackoffMs = options.maxBackoffMs ?? 2_000;
  }

  /** Calls in flight over all connections of this pool. */
  get inFlight(): number {
    let n = 0;
    for (const c of this.open) n += c.pending.size;
    return n;
  }

  /** An open connection synchronously, when one is usable without connecting (the hot path). */
  tryGet(): ClientConnection | undefined {
    let best: ClientConnection | undefined;
    for (const c of this.open) {
      if (c.retired) continue;
      if (best === undefined || c.pending.size < best.pending.size) best = c;
    }
    if (best === undefined) return undefined;
    if (best.pending.size >= this.callsPerConnection && this.open.length < this.maxActive) return undefined;
    this.reused++;
    return best;
  }

  /**
   * A connection to send on: an open one, or a new one. Concurrent callers share one connect, but each waits
   * only until its own `signal` aborts (Cancelled) or its `deadline` (`Date.now()` clock) passes
   * (DeadlineExceeded); the connect goes on for the others, bounded by the connect timeout. Rejects with
   * Unavailable (marked unprocessed) when closed, draining, backing off, or when the connect fails.
   */
  get(signal?: AbortSignal, deadline?: number): Promise<ClientConnection> {
    const ready = this.tryGet();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.closed || this.draining) return Promise.reject(this.closedError());
    if (this.connecting === undefined) {
      const now = Date.now();
      if (now < this.retryAt) {
        const last = this.lastError;
        // A refusal keeps its code: the caller must learn that its credentials are refused, not that the
        // server is away.
        const code = isRefusal(last) ? (last as RpcError).code : Code.Unavailable;
        const why = last?.rawMessage ?? 'connect failed';
        return Promise.reject(
          markUnprocessed(
            new RpcError(code, `${this.address}: ${why} (next try in ${this.retryAt - now} ms)`),
          ),
        );
      }
      // A caller that has already given up starts no connect (and so no backoff).
      if (signal?.aborted || (deadline !== undefined && deadline <= now))
        return this.waiters.wait(deadline, signal);
      this.startConnect();
    }
    return this.waiters.wait(deadline, signal);
  }

  /** Whether a call could be sent right now without waiting for a backoff. */
  get healthy(): boolean {
    return (
      !this.closed && !this.draining && (this.open.some((c) => !c.retired) || Date.now() >= this.retryAt)
    );
  }

  stats(): PoolStats {
    let active = 0;
    let idle = 0;
    for (const c of this.open) {
      if (c.pending.size > 0) active++;
      else idle++;
    }
    const total = this.reused + this.created;
    return {
      created: this.created,
      reused: this.reused,
      active,
      idle,
      reuseRatio: total === 0 ? 0 : this.reused / total,
    };
  }

  /** Lets calls in flight finish, then closes every connection (an instance left the registry). */
  drain(): void {
    this.draining = true;
    this.stopConnect(this.closedError());
    for (const c of [...this.open]) c.retire();
    this.stopSweeper();
  }

  /** Closes every connection now; their pending calls, and calls waiting for a connect, fail with `error`. */
  close(error = new RpcError(Code.Unavailable, 'client closed')): void {
    this.closed = true;
    this.stopSweeper();
    this.stopConnect(error);
    for (const c of [...this.open]) c.destroy(error);
    this.open.length = 0;
  }

  /** Starts the one shared connect; its outcome goes to every caller still waiting. */
  private startConnect(): void {
    const controller = new AbortController();
    this.connecting = controller;
    this.connect(controller.signal).then(
      (conn) => {
        if (this.connecting === controller) this.connecting = undefined;
        this.waiters.resolve(conn);
      },
      (err: RpcError) => {
        if (this.connecting === controller) this.connecting = undefined;
        this.waiters.reject(err);
      },
    );
  }

  /** Fails the callers waiting for a connect and stops it (it would only be closed again). */
  private stopConnect(error: RpcError): void {
    this.waiters.reject(error);
    const controller = this.connecting;
    this.connecting = undefined;
    controller?.abort(error);
  }

  private closedError(): RpcError {
    return markUnprocessed(new RpcError(Code.Unavailable, `pool for ${this.address} is closed`));
  }

  private async connect(signal: AbortSignal): Promise<ClientConnection> {
    try {
      const options = { ...this.connectOptions, signal };
      const conn = await ClientConnection.open(options, {
        onRetire: (c) => this.remove(c),
        onIdle: (c) => this.onIdle(c),
        onRefused: (error) => this.backOff(error),
      });
      this.created++;
      this.retryAt = 0;
      // After a refusal the backoff stands until this connection gets an answer (onIdle): a server that
      // refuses again right after the handshake doubles it, instead of a handshake per call.
      if (!isRefusal(this.lastError)) {
        this.backoffMs = 0;
        this.lastError = undefined;
      }
      if (this.closed || this.draining) {
        conn.retire();
        throw this.closedError();
      }
      this.open.push(conn);
      this.hooks?.opened(conn);
      this.startSweeper();
      return conn;
    } catch (err) {
      const error = RpcError.from(err, Code.Unavailable);
      // Only close() and drain() cancel a connect: no backoff for that.
      if (!signal.aborted) this.backOff(error);
      // The request was never written: safe to retry anywhere.
      throw markUnprocessed(error);
    }
  }

  /** No new connect before a capped exponential backoff; `error` is what calls fail with meanwhile. */
  private backOff(error: RpcError): void {
    this.backoffMs = Math.min(
      this.maxBackoffMs,
      this.backoffMs === 0 ? this.initialBackoffMs : this.backoffMs * 2,
    );
    this.retryAt = Date.now() + this.backoffMs;
    this.lastError = error;
  }

  private remove(conn: ClientConnection): void {
    const i = this.open.indexOf(conn);
    if (i >= 0 && conn.closed) {
      this.open.splice(i, 1);
      this.hooks?.closed(conn);
    }
    if (this.open.length === 0) this.stopSweeper();
  }

  private onIdle(conn: ClientConnection): void {
    // An answer on a connection still in service after a refusal: the server accepts this client again (its
    // certificate was renewed, the server's trust changed), so the next failure starts the backoff afresh.
    // (A refused connection is retired before its last call ends.)
    if (conn.answered && !conn.retired && isRefusal(this.lastError)) {
      this.backoffMs = 0;
      this.lastError = undefined;
    }
    // Retired connections half-close themselves once nothing is left in flight (ClientConnection.retire);
    // here we only trim idle connections over maxIdle.
    let idle = 0;
    for (const c of this.open) if (!c.retired && c.pending.size === 0) idle++;
    if (idle <= this.maxIdle) return;
    for (const c of this.open) {
      if (idle <= this.maxIdle) break;
      if (!c.retired && c.pending.size === 0) {
        c.retire();
        idle--;
      }
    }
  }

  private startSweeper(): void {
    if (this.sweeper !== undefined || !Number.isFinite(this.idleTimeoutMs) || this.idleTimeoutMs <= 0) return;
    this.sweeper = setInterval(
      () => {
        const cutoff = Date.now() - this.idleTimeoutMs;
        for (const c of [...this.open])
          if (!c.retired && c.pending.size === 0 && c.idleSince < cutoff) c.retire();
      },
      // Capped: Node fires an interval over 2^31 − 1 ms every millisecond.
      Math.min(MAX_TIMER_MS, Math.max(100, Math.floor(this.idleTimeoutMs / 2))),
    );
    this.sweeper.unref();
  }

  private stopSweeper(): void {
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}
