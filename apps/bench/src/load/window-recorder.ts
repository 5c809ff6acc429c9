import type { LatencySummary } from './case-spec.js';
import { errorCode } from './drivers/driver.js';
import type { LatencyHistogram } from './histogram.js';
import { createLatencyHistogram } from './histogram.js';

/** Hooks the client process gives the recorder: tell the parent when the window opens, closes, or a kill is due. */
export interface WindowHooks {
  onWindowStart(): void;
  onWindowEnd(): void;
  /** Failover: the moment to kill an instance has come. */
  onKill?(): void;
}

/** When the window opens and closes, and (failover) when the kill comes, `killAfterMs` into the window. */
export interface WindowPlan {
  /** The window opens once at least `warmupMs` passed and `warmupCalls` calls finished, or at `maxWarmupMs`. */
  readonly warmupMs: number;
  readonly warmupCalls?: number;
  readonly maxWarmupMs?: number;
  readonly windowMs: number;
  readonly killAfterMs?: number;
  readonly eventMs?: number;
}

/**
 * Counts calls and records latencies only inside the measuring window, which opens after the warm-up (a
 * minimum time and a minimum number of finished calls, bounded in time) and closes `windowMs` later; the
 * actual opening and closing times bound the window. Also snapshots the client's CPU at both ends and, in
 * failover runs, splits the window into before / event / after.
 */
export class WindowRecorder {
  measuring = false;
  done = false;
  calls = 0;
  errors = 0;
  readonly errorCodes: Record<string, number> = {};
  /** Up to 5 distinct error messages (digits masked) with their counts: what went wrong, not just the code. */
  readonly errorMessages: Record<string, number> = {};
  private readonly hist: LatencyHistogram = createLatencyHistogram();
  private readonly eventHist: LatencyHistogram = createLatencyHistogram();
  private startedAt = 0;
  private endedAt = 0;
  private cpuStart = 0;
  private cpuEnd = 0;
  private killAt = Number.POSITIVE_INFINITY;
  private eventEnd = Number.POSITIVE_INFINITY;
  private beforeCalls = 0;
  private eventCalls = 0;
  private eventErrors = 0;
  private afterCalls = 0;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly plan: WindowPlan;
  private readonly split: boolean;

  private warmCalls = 0;
  private warmTimeDone = false;
  private readonly hooks: WindowHooks;

  constructor(plan: WindowPlan, hooks: WindowHooks) {
    this.plan = plan;
    this.hooks = hooks;
    this.split = plan.killAfterMs !== undefined;
    this.timers.push(
      setTimeout(() => {
        this.warmTimeDone = true;
        if (this.warmCalls >= (plan.warmupCalls ?? 0)) this.open();
      }, plan.warmupMs),
    );
    // However slow the stack, the window opens by maxWarmupMs: every run stays bounded in time.
    if ((plan.warmupCalls ?? 0) > 0) {
      this.timers.push(setTimeout(() => this.open(), Math.max(plan.warmupMs, plan.maxWarmupMs ?? 0)));
    }
  }

  /** Counts a call that finished during the warm-up (the loops call it instead of record()). */
  warmed(): void {
    if (this.measuring || this.done) return;
    this.warmCalls++;
    if (this.warmTimeDone && this.warmCalls === this.plan.warmupCalls) this.open();
  }

  private open(): void {
    if (this.measuring || this.done) return;
    const plan = this.plan;
    this.startedAt = performance.now();
    const cpu = process.cpuUsage();
    this.cpuStart = cpu.user + cpu.system;
    this.measuring = true;
    this.hooks.onWindowStart();
    this.timers.push(
      setTimeout(() => {
        this.endedAt = performance.now();
        const end = process.cpuUsage();
        this.cpuEnd = end.user + end.system;
        this.measuring = false;
        this.done = true;
        this.hooks.onWindowEnd();
      }, plan.windowMs),
    );
    if (plan.killAfterMs !== undefined) {
      this.timers.push(
        setTimeout(() => {
          this.killAt = performance.now();
          this.eventEnd = this.killAt + (plan.eventMs ?? 1_000);
          this.hooks.onKill?.();
        }, plan.killAfterMs),
      );
    }
  }

  /** Calls that finished during the warm-up. */
  get warmupCalls(): number {
    return this.warmCalls;
  }

  /** Records one finished call that belongs to the window; `now` is when it ended (`performance.now()`). */
  record(latencyMs: number, error: unknown, now: number): void {
    // Only failover runs split the window; everyone else skips the comparisons.
    const split = this.split;
    const inEvent = split && now >= this.killAt && now < this.eventEnd;
    if (error === undefined) {
      this.calls++;
      this.hist.recordMs(latencyMs);
      if (!split) return;
      if (inEvent) {
        this.eventCalls++;
        this.eventHist.recordMs(latencyMs);
      } else if (now < this.killAt) this.beforeCalls++;
      else this.afterCalls++;
      return;
    }
    this.errors++;
    if (inEvent) this.eventErrors++;
    const code = errorCode(error);
    this.errorCodes[code] = (this.errorCodes[code] ?? 0) + 1;
    const text = `${code}: ${error instanceof Error ? error.message : String(error)}`
      .replace(/\d+/g, 'N')
      .slice(0, 160);
    if (text in this.errorMessages || Object.keys(this.errorMessages).length < 5) {
      this.errorMessages[text] = (this.errorMessages[text] ?? 0) + 1;
    }
  }

  /** Duration of the window as the timers actually fired, ms. */
  get windowMs(): number {
    return this.endedAt - this.startedAt;
  }

  get clientCpuUs(): number {
    return this.cpuEnd - this.cpuStart;
  }

  latency(): LatencySummary {
    return this.hist.summary();
  }

  /** Failover figures, when a kill was planned. */
  failover():
    | { event: { latency: LatencySummary; errors: number; calls: number }; before: number; after: number }
    | undefined {
    if (this.plan.killAfterMs === undefined || !Number.isFinite(this.killAt)) return undefined;
    const beforeMs = this.killAt - this.startedAt;
    const afterMs = this.endedAt - this.eventEnd;
    return {
      event: { latency: this.eventHist.summary(), errors: this.eventErrors, calls: this.eventCalls },
      before: beforeMs > 0 ? (this.beforeCalls * 1000) / beforeMs : 0,
      after: afterMs > 0 ? (this.afterCalls * 1000) / afterMs : 0,
    };
  }

  cancel(): void {
    for (const t of this.timers) clearTimeout(t);
  }
}
