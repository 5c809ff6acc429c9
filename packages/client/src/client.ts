import { setMaxListeners } from 'node:events';
import type { Codec, CodecSchema } from '@mini-rpc/codec';
import { msgpackCodec } from '@mini-rpc/codec';
import type {
  Balancer,
  BreakerFactory,
  CallNext,
  CallRequest,
  Metadata,
  ServiceInstance,
} from '@mini-rpc/protocol';
import {
  Code,
  encodeMetadata,
  IDEMPOTENT_METADATA_KEY,
  MetadataKey,
  RpcError,
  userMetadataProblem,
} from '@mini-rpc/protocol';
import type { ConnectOptions } from '@mini-rpc/transport';
import { acquireSlot } from './acquire-slot.js';
import { BoundedCall } from './bounded-call.js';
import type { Call } from './call.js';
import { createCall } from './call.js';
import type { CallOptions } from './call-options.js';
import { checkClientOptions } from './check-options.js';
import type { ClientConnection } from './client-connection.js';
import { defaultBalancer, reportListenerError, sleep } from './client-helpers.js';
import type { Client, ClientOptions } from './client-options.js';
import { DeadlineSweep } from './deadline-sweep.js';
import { Exchange } from './exchange.js';
import { parseAddress } from './parse-address.js';
import type { PoolHooks, PoolStats } from './pool.js';
import { ConnectionPool } from './pool.js';
import { ServiceDirectory } from './service-directory.js';
import type { ServiceProxy } from './service-proxy.js';
import { NOT_PROXIED } from './service-proxy.js';
import { isUnprocessed, markUnprocessed } from './unprocessed.js';

const clientClosed = (): RpcError => new RpcError(Code.Unavailable, 'client closed');

/**
 * Picks the balancer makes for one attempt when breakers refuse its choices; past them the rest are asked
 * in list order. One or two refusals (an instance or two recovering, half-open with their probes taken)
 * keep the balancer's choice exactly; more mean many instances recovering at once, where a linear walk
 * matters more than the balancer's preference.
 */
const BALANCER_PICKS = 3;

interface MethodEntry {
  readonly raw: Uint8Array;
  readonly requestSchema: CodecSchema;
  readonly responseSchema: CodecSchema;
}

/**
 * Creates a client: one server by `address`, or any number by `registry` + `balancer`.
 *
 * @example
 * ```ts
 * const client = createClient({ address: '127.0.0.1:4000' });
 * const arith = client.service<Arith>('Arith');
 * console.log(await arith.add({ a: 1, b: 2 }));
 * ```
 */
export function createClient(options: ClientOptions): Client {
  return new RpcClient(options);
}

class RpcClient implements Client {
  private readonly options: ClientOptions;
  private readonly codec: Codec;
  private readonly timeoutMs: number;
  private readonly methods = new Map<string, Map<string, MethodEntry>>();
  private readonly pools = new Map<string, ConnectionPool>();
  private readonly direct: ConnectionPool | undefined;
  private readonly directory: ServiceDirectory | undefined;
  private readonly balancer: Balancer;
  private readonly pipeline: CallNext;
  private readonly isIdempotent: (service: string, method: string) => boolean;
  /** `options.breakers.delete`, when the factory has one (a breaker group): see `onInstances`. */
  private readonly forgetBreaker: ((instanceId: string) => void) | undefined;
  private readonly addressUsers = new Map<string, Set<string>>();
  private nextId = 0;
  private closed = false;
  /** What `close()` returns, to every caller: set by the first. */
  private closedPromise: Promise<void> | undefined;
  /**
   * There are interceptors. They may change `call.metadata` (it is checked again before it is sent) and wait
   * on anything (the caller's promise is a BoundedCall's).
   */
  private readonly intercepting: boolean;
  /** Aborted by `close()`: wakes calls sleeping before a retry (each adds a listener while it sleeps). */
  private readonly closing = unlimitedListeners(new AbortController());
  private readonly poolOf = new WeakMap<ServiceInstance, ConnectionPool>();
  /** The pool to send on directly when nothing stands between a call and the connection. */
  private readonly fast: ConnectionPool | undefined;
  /** Every open connection, drained pools' included, so their pending calls still time out. */
  private readonly live = new Set<ClientConnection>();
  /** `created` and `reused` of the pools no longer in `pools` (drained or closed). */
  private readonly retiredCounts = { created: 0, reused: 0 };
  /** Calls inside the interceptors, bounded by their deadline, signal and close() (BoundedCall). */
  private readonly intercepted = new Set<BoundedCall>();
  private readonly sweep = new DeadlineSweep(
    () => this.live,
    () => this.intercepted,
  );
  private readonly poolHooks: PoolHooks = {
    opened: (c) => this.live.add(c),
    closed: (c) => this.live.delete(c),
  };

  constructor(options: ClientOptions) {
    if (options.address === undefined && options.registry === undefined) {
      throw new TypeError('createClient: give an address or a registry');
    }
    checkClientOptions(options);
    this.options = options;
    this.codec = options.codec ?? msgpackCodec;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.balancer = options.balancer ?? defaultBalancer();
    const idem = options.idempotent;
    this.isIdempotent =
      typeof idem === 'function'
        ? idem
        : idem === undefined
          ? () => false
          : (s, m) => idem.includes(`${s}.${m}`);
    this.forgetBreaker = forgetterOf(options.breakers);
    if (options.address !== undefined) {
      const { host, port } = parseAddress(options.address);
      this.direct = this.poolFor(host, port);
    }
    if (options.registry !== undefined && options.address === undefined) {
      this.directory = new ServiceDirectory(options.registry, (_service, added, removed) =>
        this.onInstances(added, removed),
      );
    }
    // One server and no retry, breaker or bulkhead: nothing to pick or retry, so the terminal step sends directly and a
    // call costs no async frame, no closure and no retry bookkeeping (issue #7, hot path).
    const direct = this.direct;
    const plain =
      direct !== undefined &&
      options.retry === undefined &&
      options.breakers === undefined &&
      options.bulkhead === undefined;
    const terminal: CallNext =
      direct !== undefined && plain
        ? (call) => this.sendVia(direct, call, this.codec)
        : (call) => this.execute(call, undefined);
    if (plain && (options.interceptors ?? []).length === 0) this.fast = direct;
    this.intercepting = (options.interceptors ?? []).length > 0;
    this.pipeline = (options.interceptors ?? []).reduceRight<CallNext>(
      (next, interceptor) => interceptor(next),
      terminal,
    );
  }

  call<TRes>(service: string, method: string, args?: unknown, options?: CallOptions): Promise<TRes> {
    return this.invoke(service, method, args, options) as Promise<TRes>;
  }

  go<TRes>(service: string, method: string, args?: unknown, options: CallOptions = {}): Call<TRes> {
    return createCall<TRes>(
      service,
      method,
      args,
      options,
      (opts) => this.invoke(service, method, args, opts) as Promise<TRes>,
    );
  }

  service<T>(name: string, defaults?: CallOptions): ServiceProxy<T> {
    const cache = new Map<string, (args?: unknown, options?: CallOptions) => Promise<unknown>>();
    return new Proxy(Object.create(null) as object, {
      get: (_target, key) => {
        if (typeof key !== 'string') return undefined;
        let fn = cache.get(key);
        if (fn === undefined) {
          // `await proxy`, `JSON.stringify(proxy)`, `${proxy}` must not send calls (whose failures nobody
          // awaits: an unhandled rejection). Never cached, so only looked up on a miss.
          if (NOT_PROXIED.has(key)) return undefined;
          fn = (args?: unknown, options?: CallOptions) =>
            this.invoke(name, key, args, defaults === undefined ? options : { ...defaults, ...options });
          cache.set(key, fn);
        }
        return fn;
      },
    }) as ServiceProxy<T>;
  }

  stats(): PoolStats {
    const total: PoolStats = { ...this.retiredCounts, active: 0, idle: 0, reuseRatio: 0 };
    for (const pool of this.pools.values()) {
      total.created += pool.created;
      total.reused += pool.reused;
    }
    // Every open connection, those of pools that are draining (their instance left) included.
    for (const conn of this.live) {
      if (conn.pending.size > 0) total.active++;
      else total.idle++;
    }
    const n = total.created + total.reused;
    total.reuseRatio = n === 0 ? 0 : total.reused / n;
    return total;
  }

  close(): Promise<void> {
    // A second close() waits for the first to finish.
    if (this.closedPromise !== undefined) return this.closedPromise;
    // Set first: calls in a retry wait or an await below must not open watches or pools again.
    this.closed = true;
    this.closing.abort(clientClosed());
    // Everything the client holds fails or closes now; only stopping the watches is waited for, so a
    // registry slow to stop (or failing to) keeps no call waiting and no connection open.
    const watches = this.directory?.close() ?? Promise.resolve();
    this.closedPromise = watches;
    for (const pool of this.pools.values()) {
      this.retire(pool);
      pool.close(clientClosed());
    }
    for (const conn of this.live) conn.destroy(clientClosed());
    for (const call of this.intercepted) call.end(clientClosed());
    this.pools.clear();
    this.sweep.stop();
    return watches;
  }

  private invoke(
    service: string,
    method: string,
    args: unknown,
    options: CallOptions | undefined,
  ): Promise<unknown> {
    if (this.closed) return Promise.reject(clientClosed());
    const timeoutMs = options?.timeoutMs ?? this.timeoutMs;
    // NaN would make a deadline no comparison ever passes (a call that never times out). A negative budget
    // is one already spent: DeadlineExceeded, like a deadline in the past.
    if (Number.isNaN(timeoutMs)) {
      return Promise.reject(new RpcError(Code.InvalidArgument, 'timeoutMs is NaN'));
    }
    const now = Date.now();
    let deadline = now + timeoutMs;
    if (options?.deadline !== undefined) {
      if (Number.isNaN(options.deadline))
        return Promise.reject(new RpcError(Code.InvalidArgument, 'deadline is NaN'));
      if (options.deadline < deadline) deadline = options.deadline;
    }
    const metadata = options?.metadata;
    if (metadata !== undefined) {
      const problem = userMetadataProblem(metadata);
      if (problem !== undefined)
        return Promise.reject(new RpcError(Code.InvalidArgument, `metadata ${problem}`));
    }
    const fast = this.fast;
    if (fast !== undefined && options?.codec === undefined) {
      // No interceptor, policy or discovery: straight to the connection, no CallRequest (issue #7).
      let entry: MethodEntry;
      try {
        entry = this.methodEntry(service, method);
      } catch (err) {
        return Promise.reject(err);
      }
      const md = metadata === undefined ? undefined : { ...metadata };
      const conn = fast.tryGet();
      // Sent at once: the clock read above still holds (one read per call, not two).
      if (conn !== undefined)
        return this.sendOn(conn, entry, args, md, deadline, options?.signal, this.codec, now);
      return fast
        .get(options?.signal, deadline)
        .then((c) => this.sendOn(c, entry, args, md, deadline, options?.signal, this.codec));
    }
    const call: CallRequest = {
      service,
      method,
      args,
      metadata: metadata === undefined ? {} : { ...metadata },
      deadline,
      signal: options?.signal,
      idempotent: options?.idempotent ?? this.isIdempotent(service, method),
    };
    // A per-call codec bypasses the shared pipeline closure only in how the terminal step encodes.
    const result =
      options?.codec === undefined ? run(this.pipeline, call) : this.runWithCodec(call, options.codec);
    if (!this.intercepting) return result;
    // Interceptors may wait on anything: the caller's promise ends at the deadline, abort or close() anyway.
    const bounded = new BoundedCall(result, deadline, options?.signal, this.intercepted);
    if (Number.isFinite(deadline)) this.sweep.arm();
    return bounded.promise;
  }

  private runWithCodec(call: CallRequest, codec: Codec): Promise<unknown> {
    const terminal: CallNext = (c) => this.execute(c, codec);
    try {
      const chain = (this.options.interceptors ?? []).reduceRight<CallNext>((next, i) => i(next), terminal);
      return run(chain, call);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The resilience pipeline: retry → pick (skip open breakers) → breaker → bulkhead → send. */
  private async execute(call: CallRequest, codec: Codec | undefined): Promise<unknown> {
    const retry = this.options.retry;
    retry?.onCall();
    const tried: string[] = [];
    for (let attempt = 1; ; attempt++) {
      // A call that slept before this attempt may find the client closed: it must not reopen anything.
      if (this.closed) throw clientClosed();
      let target: string | undefined;
      try {
        return await this.attempt(call, codec ?? this.codec, tried, (t) => {
          target = t;
        });
      } catch (err) {
        const error = RpcError.from(err, Code.Unknown);
        if (target !== undefined) tried.push(target);
        const remainingMs = (call.deadline ?? Number.POSITIVE_INFINITY) - Date.now();
        if (remainingMs <= 0 || this.closed || call.signal?.aborted) throw error;
        const unprocessed = isUnprocessed(error);
        if (!unprocessed && !call.idempotent && !this.idempotentByRegistry(call.service, call.method))
          throw error;
        let delay: number;
        if (retry !== undefined)
          delay = retry.nextDelay({ attempt, error: this.errorForPolicy(error, call, target), remainingMs });
        else {
          // Without a policy, only calls that certainly never ran fail over, at once, to other instances.
          delay = unprocessed && this.directory !== undefined && attempt <= 2 ? 0 : -1;
        }
        // NaN from a policy is "give up" too: a wait of NaN ms would never end.
        if (!(delay >= 0) || delay >= remainingMs) throw error;
        await sleep(delay, call.signal, this.closing.signal);
      }
    }
  }

  /**
   * What the retry policy is shown of `error`: a server's retry-after hint (`:r`, the time until its rate
   * limit has a token) is about that server's bucket, so it stays only when the retry can go nowhere else
   * (one address, or no other usable instance). While another instance could take the retry, the policy
   * gets a copy without it (the server's error as its `cause`), and its own backoff applies: waiting for
   * one instance's bucket before calling another would only add latency. The caller still gets the error
   * as the server sent it.
   */
  private errorForPolicy(error: RpcError, call: CallRequest, target: string | undefined): RpcError {
    if (error.metadata[MetadataKey.RetryAfter] === undefined || this.directory === undefined) return error;
    const instances = this.directory.peek(call.service) ?? [];
    if (!instances.some((i) => i.id !== target && this.usable(i))) return error;
    const metadata: Metadata = {};
    for (const key in error.metadata)
      if (key !== MetadataKey.RetryAfter) metadata[key] = error.metadata[key] as string;
    return new RpcError(error.code, error.rawMessage, { metadata, details: error.details, cause: error });
  }

  /** Whether the registry says the method is idempotent (servers publish their `@method({ idempotent })` list). Only consulted after a failure. */
  private idempotentByRegistry(service: string, method: string): boolean {
    // Any instance will do: instances registered by something other than the server may lack the key.
    const instances = this.directory?.peek(service) ?? [];
    return instances.some((i) => i.metadata[IDEMPOTENT_METADATA_KEY]?.split(',').includes(method) === true);
  }

  private async attempt(
    call: CallRequest,
    codec: Codec,
    tried: readonly string[],
    onTarget: (id: string) => void,
  ): Promise<unknown> {
    const breakers = this.options.breakers;
    let instance: ServiceInstance | undefined;
    let pool: ConnectionPool;
    if (this.direct !== undefined) {
      pool = this.direct;
      if (breakers !== undefined && !breakers(pool.address).allowRequest()) {
        throw markUnprocessed(new RpcError(Code.Unavailable, `${pool.address}: circuit open`));
      }
      onTarget(pool.address);
    } else {
      const candidates = await this.candidates(call, tried);
      instance = this.choose(candidates, call);
      onTarget(instance.id);
      pool = this.instancePool(instance);
    }
    const breaker = breakers?.(instance?.id ?? pool.address);
    // Read in the same synchronous step as the allowRequest() that admitted the call: its result is then
    // recorded against the state it was admitted in, and dropped if the breaker has changed state since.
    const generation = breaker?.generation;
    const bulkhead = this.options.bulkhead;
    let release: (() => void) | undefined;
    if (bulkhead !== undefined) {
      try {
        const limiter = typeof bulkhead === 'function' ? bulkhead(instance?.id ?? pool.address) : bulkhead;
        // A queued call leaves the queue at its deadline too (docs/resilience.md §4).
        release = await acquireSlot(limiter, call.deadline, call.signal, this.closing.signal);
      } catch (err) {
        // The call never left: free the breaker slot without counting against the instance.
        try {
          breaker?.recordFailure(Code.Cancelled, generation);
        } catch (listenerError) {
          reportListenerError(listenerError);
        }
        throw markUnprocessed(RpcError.from(err, Code.ResourceExhausted));
      }
    }
    const started = performance.now();
    // From the slot taken above, every step below runs whatever the others throw: a throwing balancer hook
    // or release must not leak the slot or the breaker's probe, nor replace the call's own outcome.
    if (instance !== undefined && this.balancer.onStart !== undefined) {
      try {
        this.balancer.onStart(instance);
      } catch (hookError) {
        reportListenerError(hookError);
      }
    }
    let code: Code = Code.OK;
    try {
      return await this.sendVia(pool, call, codec);
    } catch (err) {
      code = err instanceof RpcError ? err.code : Code.Unknown;
      throw err;
    } finally {
      if (release !== undefined) {
        try {
          release();
        } catch (releaseError) {
          reportListenerError(releaseError);
        }
      }
      if (instance !== undefined && this.balancer.onEnd !== undefined) {
        try {
          this.balancer.onEnd(instance, { code, latencyMs: performance.now() - started });
        } catch (hookError) {
          reportListenerError(hookError);
        }
      }
      // A throwing stateChange listener must not replace the call's own outcome.
      try {
        if (code === Code.OK) breaker?.recordSuccess(generation);
        else breaker?.recordFailure(code, generation);
      } catch (listenerError) {
        reportListenerError(listenerError);
      }
    }
  }

  /** The instances a call may go to: discovered, not behind an open breaker or a connect backoff, not tried yet if possible. */
  private async candidates(call: CallRequest, tried: readonly string[]): Promise<readonly ServiceInstance[]> {
    const directory = this.directory as ServiceDirectory;
    const all =
      directory.peek(call.service) ??
      (await directory.instances(call.service, call.deadline ?? Date.now() + this.timeoutMs, call.signal));
    // The common case — every instance usable — allocates no filtered copy (issue #7).
    let candidates = all.every(this.usable) ? all : all.filter(this.usable);
    if (tried.length > 0 && candidates.some((i) => !tried.includes(i.id))) {
      candidates = candidates.filter((i) => !tried.includes(i.id));
    }
    if (candidates.length === 0) {
      let why =
        all.length === 0 ? 'no instances registered' : 'every instance is unavailable (down or circuit open)';
      const leftOut = directory.leftOut(call.service);
      if (all.length === 0 && leftOut.length > 0) why = `no usable instance (${leftOut.join('; ')})`;
      throw markUnprocessed(new RpcError(Code.Unavailable, `${call.service}: ${why}`));
    }
    return candidates;
  }

  /** Not behind an open breaker or a connect backoff. A field, so that `candidates` makes no closure per call. */
  private readonly usable = (i: ServiceInstance): boolean =>
    (this.options.breakers === undefined || this.options.breakers(i.id).state !== 'open') &&
    this.instancePool(i).healthy;

  /** The balancer's choice among `candidates` whose breaker admits the call (synchronous: see `attempt`). */
  private choose(candidates: readonly ServiceInstance[], call: CallRequest): ServiceInstance {
    const breakers = this.options.breakers;
    // The common case: one pick on the list as it is, nothing allocated.
    const choice = this.balancer.pick(candidates, call);
    if (breakers === undefined || breakers(choice.id).allowRequest()) return choice;
    return this.chooseAfterRefusal(candidates, call, breakers, choice);
  }

  /**
   * `choose` once the balancer's first choice was refused. The balancer picks again among the rest, up to
   * BALANCER_PICKS picks in all; then the rest are asked in list order, starting after the last refused
   * choice, so the balancer's rotation still spreads the calls. Re-picking until one admits was quadratic:
   * each pick filtered a new list, and a balancer keeps its state per list (a new ring for consistentHash),
   * so 1,000 half-open instances with their probes taken cost 1,000 picks on lists of 1,000, 999, … 1.
   * Every breaker is asked at most once: an admitting `allowRequest()` takes a half-open probe slot.
   */
  private chooseAfterRefusal(
    candidates: readonly ServiceInstance[],
    call: CallRequest,
    breakers: BreakerFactory,
    refusedFirst: ServiceInstance,
  ): ServiceInstance {
    const refused = [refusedFirst.id];
    let last = refusedFirst;
    let left = candidates.filter((c) => c.id !== last.id);
    while (refused.length < BALANCER_PICKS && left.length > 0) {
      const choice = this.balancer.pick(left, call);
      // An id already refused (a balancer that answers outside the list it was given) is not asked twice.
      if (refused.includes(choice.id)) break;
      if (breakers(choice.id).allowRequest()) return choice;
      refused.push(choice.id);
      last = choice;
      left = left.filter((c) => c.id !== last.id);
    }
    const n = candidates.length;
    const start = candidates.indexOf(last) + 1;
    for (let k = 0; k < n; k++) {
      const candidate = candidates[(start + k) % n] as ServiceInstance;
      if (!refused.includes(candidate.id) && breakers(candidate.id).allowRequest()) return candidate;
    }
    throw markUnprocessed(
      new RpcError(Code.Unavailable, `${call.service}: every instance is refusing calls (circuit open)`),
    );
  }

  /** Encodes and sends one request on a pooled connection; resolves with the decoded result. */
  private sendVia(pool: ConnectionPool, call: CallRequest, codec: Codec): Promise<unknown> {
    // invoke() checked the caller's metadata; an interceptor may have added a reserved key (`:s` would
    // send the call to another service) or a value that is not a string since.
    if (this.intercepting) {
      const problem = userMetadataProblem(call.metadata);
      if (problem !== undefined)
        return Promise.reject(new RpcError(Code.InvalidArgument, `metadata ${problem}`));
    }
    let entry: MethodEntry;
    try {
      entry = this.methodEntry(call.service, call.method);
    } catch (err) {
      return Promise.reject(err);
    }
    const conn = pool.tryGet();
    if (conn !== undefined) {
      return this.sendOn(conn, entry, call.args, call.metadata, call.deadline, call.signal, codec);
    }
    return pool
      .get(call.signal, call.deadline)
      .then((c) => this.sendOn(c, entry, call.args, call.metadata, call.deadline, call.signal, codec));
  }

  private sendOn(
    conn: ClientConnection,
    entry: MethodEntry,
    args: unknown,
    metadata: Metadata | undefined,
    deadline: number | undefined,
    signal: AbortSignal | undefined,
    codec: Codec,
    now: number = Date.now(),
  ): Promise<unknown> {
    const timeoutMs = deadline === undefined ? this.timeoutMs : deadline - now;
    if (timeoutMs <= 0) {
      return Promise.reject(
        new RpcError(Code.DeadlineExceeded, 'deadline exceeded before the call was sent'),
      );
    }
    if (signal?.aborted) return Promise.reject(RpcError.from(signal.reason, Code.Cancelled));
    let payload: Uint8Array;
    try {
      payload = codec.encode(args, entry.requestSchema);
    } catch (err) {
      return Promise.reject(
        new RpcError(Code.InvalidArgument, `arguments do not encode: ${(err as Error).message}`, {
          cause: err,
        }),
      );
    }
    this.nextId = this.nextId >= 0x1f_ffff_ffff_ffff ? 1 : this.nextId + 1;
    const exchange = new Exchange(
      this.nextId,
      conn,
      codec,
      entry.responseSchema,
      deadline ?? now + timeoutMs,
      signal,
    );
    exchange.rawMetadata = entry.raw;
    exchange.metadata = metadata;
    // No deadline, no `:t` (docs/protocol.md §4.2).
    exchange.timeoutMs = Number.isFinite(timeoutMs) ? timeoutMs : undefined;
    exchange.payload = payload;
    try {
      conn.send(exchange, exchange);
    } catch (err) {
      exchange.reject(RpcError.from(err, Code.Unavailable));
    }
    this.sweep.arm();
    return exchange.promise;
  }

  private methodEntry(service: string, method: string): MethodEntry {
    let table = this.methods.get(service);
    if (table === undefined) {
      table = new Map();
      this.methods.set(service, table);
    }
    let entry = table.get(method);
    if (entry === undefined) {
      // Checked once per name, when it is first used: a name that is not a string would fail the encoding
      // of the whole batch, and an empty one names nothing.
      if (typeof service !== 'string' || service === '' || typeof method !== 'string' || method === '') {
        if (table.size === 0) this.methods.delete(service);
        throw new RpcError(
          Code.InvalidArgument,
          `service and method must be non-empty strings, got ${describeName(service)}.${describeName(method)}`,
        );
      }
      entry = {
        raw: encodeMetadata({ [MetadataKey.Service]: service, [MetadataKey.Method]: method }),
        requestSchema: { service, method, kind: 'request' },
        responseSchema: { service, method, kind: 'response' },
      };
      table.set(method, entry);
    }
    return entry;
  }

  /** The pool of an instance, cached on the (immutable) instance object to avoid a string key per call. */
  private instancePool(instance: ServiceInstance): ConnectionPool {
    let pool = this.poolOf.get(instance);
    if (pool === undefined || this.pools.get(pool.address) !== pool) {
      pool = this.poolFor(instance.host, instance.port);
      this.poolOf.set(instance, pool);
    }
    return pool;
  }

  private poolFor(host: string, port: number): ConnectionPool {
    const key = `${host}:${port}`;
    let pool = this.pools.get(key);
    if (pool === undefined) {
      // close() cleared the pools; a call still running must not open a new one nobody would close.
      if (this.closed) throw clientClosed();
      const connect: ConnectOptions = {
        host,
        port,
        connectTimeoutMs: this.options.connectTimeoutMs ?? 3_000,
        heartbeatIntervalMs: this.options.heartbeatIntervalMs ?? 5_000,
        readTimeoutMs: this.options.readTimeoutMs ?? 15_000,
        ...(this.options.tls === undefined ? {} : { tls: this.options.tls }),
      };
      pool = new ConnectionPool(connect, this.options.pool, this.poolHooks);
      this.pools.set(key, pool);
    }
    return pool;
  }

  /**
   * Follows registry changes. Instances that left: their connections drain (in-flight calls finish), then
   * close, and their breakers are forgotten (an id is unique across services), so an id that comes back
   * starts closed and a client whose instances change with every deploy keeps no breaker per instance it
   * ever saw. A moved instance (same id, new address) left its old address: its breaker described that one.
   */
  private onInstances(added: readonly ServiceInstance[], removed: readonly ServiceInstance[]): void {
    for (const inst of added) {
      const key = `${inst.host}:${inst.port}`;
      let users = this.addressUsers.get(key);
      if (users === undefined) {
        users = new Set();
        this.addressUsers.set(key, users);
      }
      users.add(inst.id);
    }
    for (const inst of removed) {
      if (this.forgetBreaker !== undefined) this.forgetBreaker(inst.id);
      const key = `${inst.host}:${inst.port}`;
      const users = this.addressUsers.get(key);
      users?.delete(inst.id);
      if (users !== undefined && users.size > 0) continue;
      // Addresses come and go (a pod gets a new IP each restart): forget them, or the map only grows.
      this.addressUsers.delete(key);
      const pool = this.pools.get(key);
      if (pool === undefined) continue;
      this.pools.delete(key);
      this.retire(pool);
      pool.drain();
    }
  }

  /** Keeps the counters of a pool the client lets go of: `stats().created` and `reused` never go down. */
  private retire(pool: ConnectionPool): void {
    this.retiredCounts.created += pool.created;
    this.retiredCounts.reused += pool.reused;
  }
}

/**
 * Runs `chain` so that the caller always gets a promise: an interceptor that throws synchronously rejects
 * it (call() must not throw, go() must return its Call), and one that returns a plain value fulfils it.
 */
function run(chain: CallNext, call: CallRequest): Promise<unknown> {
  try {
    const result = chain(call);
    return result instanceof Promise ? result : Promise.resolve(result);
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * The `delete(id)` of a breaker factory that has one (`createBreakerGroup()`'s), bound to it; a plain
 * factory function has none and keeps whatever memory it has. A `delete` that throws becomes a warning.
 */
function forgetterOf(breakers: BreakerFactory | undefined): ((instanceId: string) => void) | undefined {
  const remove = (breakers as { delete?: unknown } | undefined)?.delete;
  if (typeof remove !== 'function') return undefined;
  return (instanceId) => {
    try {
      remove.call(breakers, instanceId);
    } catch (error) {
      // A registry delivery must go on to drain the pools of the instances that left.
      reportListenerError(error);
    }
  };
}

function describeName(name: unknown): string {
  return typeof name === 'string' ? `'${name}'` : typeof name;
}

/**
 * `controller`, its signal allowed any number of listeners: every call in a retry wait listens to it, and
 * Node warns of a leak past 10.
 */
function unlimitedListeners(controller: AbortController): AbortController {
  setMaxListeners(0, controller.signal);
  return controller;
}
