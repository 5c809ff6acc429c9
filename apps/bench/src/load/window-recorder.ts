import type { LatencySummary } from './case-spec.js';
import { errorCode } from './drivers/driver.js';
import type { LatencyHistogram } from './histogram.js';
import { createLatencyHistogram, createSlotHistograms, windowCapacity } from './histogram.js';

/** Hooks the client process gives the recorder: tell the parent when the window opens, closes, or a kill is due. */
export interface WindowHooks {
  /**
   * Called every {@link WARMUP_TICK_MS} of the warm-up: the client sends the parent the same kind of IPC
   * message the window's edges send, so that this bookkeeping, too, is warm (see {@link WindowRecorder}).
   */
  onWarmupTick?(): void;
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

/** How often the warm-up checks whether it is done, and calls {@link WindowHooks.onWarmupTick}. */
export const WARMUP_TICK_MS = 25;

/** Where a call's time falls: before the window (warm-up), in it, or after it. */
type Slot = 0 | 1 | 2;

/**
 * Counts calls and records latencies for the measuring window, which opens after the warm-up (a minimum time
 * and a minimum number of finished calls, bounded in time) and closes `windowMs` later; the actual opening
 * and closing times bound the window. Also snapshots the client's CPU at both ends and, in failover runs,
 * splits the window into before / event / after.
 *
 * The loops hand every finished call to {@link record}, warm-up included, with the time that places it: its
 * end (closed loop) or its due time (open loop). The recorder files it under the warm-up, the window or
 * after, by comparing that time with the window's edges, and keeps only the window's figures. So the code
 * that runs per call is the same before and in the window: a loop that took one branch in the warm-up and
 * another once the window opened made V8 deoptimise and recompile the hot path just then, and the
 * recompiles (on a background thread, on 2 cores) put millisecond stalls into the window's first 100–200 ms.
 */
export class WindowRecorder {
  measuring = false;
  done = false;
  /** Calls, errors and latencies per {@link Slot}; only the window's (1) are reported. */
  private readonly callsIn: [number, number, number] = [0, 0, 0];
  private readonly errorsIn: [number, number, number] = [0, 0, 0];
  private readonly hists: readonly [LatencyHistogram, LatencyHistogram, LatencyHistogram];
  readonly errorCodes: Record<string, number> = {};
  /** Up to 5 distinct error messages (digits masked) with their counts: what went wrong, not just the code. */
  readonly errorMessages: Record<string, number> = {};
  private readonly eventHist: LatencyHistogram;
  private startedAt = Number.POSITIVE_INFINITY;
  private endedAt = Number.POSITIVE_INFINITY;
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

  private warmTimeDone = false;
  private warmupTimer: NodeJS.Timeout | undefined;
  private readonly hooks: WindowHooks;

  constructor(plan: WindowPlan, hooks: WindowHooks) {
    this.plan = plan;
    this.hooks = hooks;
    this.hists = createSlotHistograms(plan.windowMs);
    this.eventHist = createLatencyHistogram(
      plan.killAfterMs === undefined ? undefined : windowCapacity(plan.windowMs),
    );
    this.split = plan.killAfterMs !== undefined;
    this.unfreezeFields();
    const warmupCalls = plan.warmupCalls ?? 0;
    // However slow the stack, the window opens by maxWarmupMs: every run stays bounded in time. When that is
    // warmupMs itself (the open loop), this one timer does both: two timers of one delay fire in one pass of
    // Node's timers code, down a branch the warm-up never took, which threw that code away as the window
    // opened (`--trace-deopt`).
    const maxWarmupMs = warmupCalls > 0 ? Math.max(plan.warmupMs, plan.maxWarmupMs ?? 0) : plan.warmupMs;
    this.timers.push(
      setTimeout(() => {
        this.warmTimeDone = true;
        if (this.warmupCalls >= warmupCalls || maxWarmupMs === plan.warmupMs) this.open();
      }, plan.warmupMs),
    );
    // The call count is polled, not checked per call: the per-call code must not branch on it (see above).
    // A new timer each time, not an interval: Node's timer code must have seen timers, not only the loops'
    // immediates, before the window's own timers come. The delay alternates by 1 ms so that each tick's
    // timer list empties as it fires, as the warm-up timer's list does when the window opens: with one
    // delay the next tick always joined the list first, and Node's timers code, compiled without that
    // branch, was thrown away as every window opened, with a ~1 ms compile on the client's core after.
    let ticks = 0;
    const tick = (): void => {
      if (this.measuring || this.done) return;
      this.hooks.onWarmupTick?.();
      if (this.warmTimeDone && this.warmupCalls >= warmupCalls) this.open();
      else this.warmupTimer = setTimeout(tick, WARMUP_TICK_MS + (++ticks & 1));
    };
    this.warmupTimer = setTimeout(tick, WARMUP_TICK_MS);
    if (maxWarmupMs > plan.warmupMs) this.timers.push(setTimeout(() => this.open(), maxWarmupMs));
  }

  /**
   * Writes every field that changes later with values of each kind it will hold, then back. V8 compiles a
   * field that still has its first value into the hot code as a constant, and a field's first fraction
   * changes the object's hidden class; either way, the first write of the window (when it opens, or the kill)
   * would throw the optimised per-call code away just then. Here it happens before any code is optimised.
   */
  private unfreezeFields(): void {
    this.measuring = this.done = this.warmTimeDone = true;
    this.measuring = this.done = this.warmTimeDone = false;
    this.startedAt = this.endedAt = this.killAt = this.eventEnd = this.cpuStart = this.cpuEnd = 0.5;
    this.cpuStart = this.cpuEnd = 0;
    this.startedAt = this.endedAt = this.killAt = this.eventEnd = Number.POSITIVE_INFINITY;
    this.beforeCalls = this.eventCalls = this.eventErrors = this.afterCalls = 1;
    this.beforeCalls = this.eventCalls = this.eventErrors = this.afterCalls = 0;
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

  /** Calls of the warm-up, failed ones included (placed by the time their loop gave). */
  get warmupCalls(): number {
    return this.callsIn[0] + this.errorsIn[0];
  }

  /** Calls of the window that succeeded. */
  get calls(): number {
    return this.callsIn[1];
  }

  /** Calls of the window that failed. */
  get errors(): number {
    return this.errorsIn[1];
  }

  /**
   * Where time `at` (`performance.now()`) falls: 0 before the window, 1 in it, 2 after it. Computed, not
   * branched on, so that the hot path takes the same branches before and in the window.
   */
  slot(at: number): Slot {
    return ((at >= this.startedAt ? 1 : 0) + (at >= this.endedAt ? 1 : 0)) as Slot;
  }

  /**
   * Records one finished call, warm-up included. `at` places it in the warm-up, the window or after it: the
   * closed loop passes the call's end, the open loop its due time. `now` is when it ended.
   */
  record(latencyMs: number, error: unknown, at: number, now: number): void {
    const slot = this.slot(at);
    // Only failover runs split the window; everyone else skips the comparisons.
    const split = this.split;
    if (error === undefined) {
      this.callsIn[slot]++;
      this.hists[slot].recordMs(latencyMs);
      if (!split || slot !== 1) return;
      const inEvent = now >= this.killAt && now < this.eventEnd;
      if (inEvent) {
        this.eventCalls++;
        this.eventHist.recordMs(latencyMs);
      } else if (now < this.killAt) this.beforeCalls++;
      else this.afterCalls++;
      return;
    }
    this.errorsIn[slot]++;
    if (slot !== 1) return;
    if (split && now >= this.killAt && now < this.eventEnd) this.eventErrors++;
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

  /** Three more recorders, one per {@link slot}, for a figure filed like the calls (the open loop's send lag). */
  slotHistograms(): readonly [LatencyHistogram, LatencyHistogram, LatencyHistogram] {
    return createSlotHistograms(this.plan.windowMs);
  }

  latency(): LatencySummary {
    return this.hists[1].summary();
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
    clearTimeout(this.warmupTimer);
    for (const t of this.timers) clearTimeout(t);
  }
}
