/**
 * The stacks raced side by side: the bare TCP ceiling, mini-rpc, grpc-js unary, HTTP/1.1 via undici, and
 * Moleculer 0.14 over its TCP transporter.
 */
export type StackName = 'bare' | 'mini-rpc' | 'grpc' | 'http' | 'moleculer';

/** Codecs mini-rpc is measured with; the other stacks move raw bytes and report `raw`. */
export type CodecName = 'msgpack' | 'json' | 'protobuf' | 'raw';

/**
 * What each call carries: `bytes` is N opaque bytes echoed by every stack; `order` is the ~1 KiB structured
 * order message of the micro bench (mini-rpc only), so its calls/s can be compared with the codec's cost.
 */
export type PayloadKind = 'bytes' | 'order';

/** How a server process is set up. */
export interface ServerSpec {
  readonly stack: StackName;
  /** mini-rpc only: N pass-through middleware, or the default chain of @mini-rpc/middleware. */
  readonly middleware?: number | 'default-chain';
  /** bare only: frames per write before a batch leaves at once (default 16, as mini-rpc; 0 = no cap). */
  readonly batchFrames?: number;
}

/** Closed loop: `concurrency` calls always in flight. Open loop: a fixed arrival rate in calls/s. */
export type LoadMode =
  | { readonly kind: 'closed'; readonly concurrency: number }
  | { readonly kind: 'open'; readonly rate: number; readonly maxOutstanding: number };

/** How the client process drives load. */
export interface ClientSpec {
  readonly stack: StackName;
  readonly codec: CodecName;
  readonly payload: PayloadKind;
  readonly size: number;
  readonly mode: LoadMode;
  /** Warm-up: at least `warmupMs` and `warmupCalls` finished calls, at most `maxWarmupMs`. */
  readonly warmupMs: number;
  readonly warmupCalls: number;
  readonly maxWarmupMs: number;
  readonly windowMs: number;
  /** One address per server instance. */
  readonly ports: readonly number[];
  /** mini-rpc: connections in the pool (pool.maxActive) and calls per connection before another opens. */
  readonly pool?: { readonly maxActive: number; readonly callsPerConnection: number };
  /** bare only: frames per write before a batch leaves at once (default 16, as mini-rpc; 0 = no cap). */
  readonly batchFrames?: number;
  /** A label for a variant of the stack (`uncapped batch`), shown next to its name. */
  readonly variant?: string;
  /** http: connections of the undici Pool (HTTP/1.1 has one request per connection at a time). */
  readonly connections?: number;
  /** mini-rpc with several instances: the @mini-rpc/balancer factory to use. */
  readonly balancer?: string;
  /** mini-rpc: retry idempotent calls with @mini-rpc/resilience's policy. */
  readonly retry?: boolean;
  /** Metadata sent with every call (the auth token of the middleware scenario). */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Failover: ask the parent to kill this instance this far into the window, ms. */
  readonly killAt?: { readonly index: number; readonly afterMs: number };
  /** Failover: how long after the kill the "event" histogram records, ms. */
  readonly eventMs?: number;
}

/** Where a case's processes run: `taskset -c` CPU lists for the client and for the server(s). */
export interface CpuPlacement {
  readonly client: string;
  readonly servers: string;
}

/** One benchmark case: the servers to start and the load to drive against them. */
export interface CaseSpec {
  /** Unique, human-readable: `mini-rpc msgpack 64B closed C=64`. */
  readonly id: string;
  /** The table it belongs to in the report. */
  readonly group: 'compare' | 'open' | 'pool' | 'balancer' | 'middleware' | 'failover' | 'one-core';
  /** Cases with the same slot are raced together: their order rotates from round to round. */
  readonly slot: string;
  readonly servers: readonly ServerSpec[];
  readonly client: Omit<ClientSpec, 'ports'>;
  /**
   * Open-loop rate rule, resolved from closed-loop results of the same round just before the case runs:
   * a fraction of the stack's own best calls/s, of the slowest stack's, or of mini-rpc's (the rate of
   * mini-rpc's own open loop, offered to another stack).
   */
  readonly rateFrom?: {
    readonly rule: 'half-own-max' | 'half-slowest-max' | 'half-mini-rpc-max';
    readonly fraction: number;
  };
  /**
   * The CPUs the client process and the server process(es) are pinned to, as `taskset -c` takes them
   * (`{ client: '0', servers: '0' }`: they share one core). Linux only: without taskset, or with fewer
   * CPUs than named, the case is skipped.
   */
  readonly cpus?: CpuPlacement;
  /** Set when the case needs a package that is not built yet: the case is listed as skipped. */
  readonly needs?: readonly ('balancer' | 'middleware' | 'resilience' | 'registry')[];
}

/** Latency percentiles of the window, microseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

/** What the client process reports for one run of a case. */
export interface ClientReport {
  readonly calls: number;
  readonly errors: number;
  readonly errorCodes: Record<string, number>;
  /** Up to 5 distinct error messages (digits masked as N) with counts. */
  readonly errorMessages?: Record<string, number>;
  readonly windowMs: number;
  /** Calls that finished during the warm-up, before the window opened. */
  readonly warmupCalls?: number;
  readonly callsPerSec: number;
  readonly latency: LatencySummary;
  /** Client CPU (user + system) over the window ÷ completed calls, µs. */
  readonly clientCpuUsPerCall: number;
  /** Cores the client process may run on (`os.availableParallelism()`, which follows its CPU affinity). */
  readonly cores?: number;
  /** Open loop: sends skipped because `maxOutstanding` calls were already waiting. */
  readonly dropped?: number;
  /** Open loop: the arrival rate actually scheduled, calls/s. */
  readonly offeredRate?: number;
  /** Open loop: how late the generator sent calls after their due time, µs. */
  readonly sendLag?: LatencySummary;
  /** mini-rpc: `client.stats()` at the end of the window. */
  readonly pool?: Record<string, number>;
  /** Failover: latency of calls that ended in the event period after the kill, and its errors. */
  readonly event?: { readonly latency: LatencySummary; readonly errors: number; readonly calls: number };
  /** Failover: calls/s before the kill and after the event period. */
  readonly before?: number;
  readonly after?: number;
  /**
   * `order` payloads: the codec's encode+decode of the order message, µs (median), timed in the client
   * process right after the window by the micro bench's task (see codec-probe).
   */
  readonly codecUsPerCall?: number;
}

/** One run of one case: the client's report plus what the servers said about the same window. */
export interface RunResult extends ClientReport {
  readonly round: number;
  /** Server CPU over the window (summed over instances) ÷ calls they served, µs. */
  readonly serverCpuUsPerCall: number;
  /** Calls each server instance served in the window (-1: killed, not known). */
  readonly perInstance: readonly number[];
  /** Cores each server process may run on, as the client's `cores`. */
  readonly serverCores?: readonly number[];
  /** Cores other processes of the machine kept busy during the window (Linux only): noise. */
  readonly otherBusyCores?: number;
}

/** A value over the rounds: the median and the spread. */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

/** All runs of one case, aggregated. */
export interface CaseResult {
  readonly id: string;
  readonly group: CaseSpec['group'];
  readonly stack: StackName;
  readonly codec: CodecName;
  readonly payload: PayloadKind;
  readonly size: number;
  readonly mode: LoadMode;
  readonly servers: readonly ServerSpec[];
  readonly client: Omit<ClientSpec, 'ports'>;
  /** The CPUs its processes were pinned to (see {@link CaseSpec.cpus}). */
  readonly cpus?: CpuPlacement;
  /** Why it did not run, when it did not. */
  readonly skipped?: string;
  /** `N run(s) failed: <first error>` when any run of the case failed (the others still count). */
  readonly failed?: string;
  readonly runs: readonly RunResult[];
  readonly callsPerSec?: Spread;
  readonly p50?: Spread;
  readonly p90?: Spread;
  readonly p99?: Spread;
  readonly p999?: Spread;
  readonly clientCpuUsPerCall?: Spread;
  readonly serverCpuUsPerCall?: Spread;
  readonly errors?: Spread;
}
