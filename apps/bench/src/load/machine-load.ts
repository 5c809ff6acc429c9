import { readFileSync } from 'node:fs';

/** Busy and total CPU time of the whole machine so far, in clock ticks (Linux /proc/stat). */
export interface CpuTicks {
  readonly busy: number;
  readonly total: number;
}

/** Clock ticks per second of /proc/stat (USER_HZ, 100 on Linux). */
const TICKS_PER_SEC = 100;

/** The machine's CPU ticks now, or `undefined` where /proc/stat does not exist. */
export function readCpuTicks(): CpuTicks | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/**
 * Cores kept busy by processes other than the bench's own during a window: the machine's busy time minus
 * `ownCpuUs` (what the client and servers reported), averaged over `windowMs`. A shared machine shows here.
 */
export function otherBusyCores(
  start: CpuTicks | undefined,
  end: CpuTicks | undefined,
  ownCpuUs: number,
  windowMs: number,
): number | undefined {
  if (start === undefined || end === undefined || windowMs <= 0) return undefined;
  const busySec = (end.busy - start.busy) / TICKS_PER_SEC;
  return Math.max(0, (busySec - ownCpuUs / 1e6) / (windowMs / 1000));
}

/** How long to wait for a quiet machine before each run, and the budget over the whole suite. */
export interface QuietGate {
  /** Busy cores (of everything else) below which the machine counts as quiet. */
  readonly maxBusyCores: number;
  /** Longest wait before one run, ms. */
  readonly maxWaitMs: number;
  /** Longest total wait over the suite, ms; once spent, runs start at once. */
  readonly budgetMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits (bounded by `gate.maxWaitMs` and what is left of `budget.leftMs`) until the machine's busy cores
 * over a 250 ms sample drop below `gate.maxBusyCores`; nothing of the bench runs meanwhile, so all of that
 * load is someone else's. Returns the time waited, ms. Without /proc/stat it returns at once.
 */
export async function waitForQuiet(gate: QuietGate, budget: { leftMs: number }): Promise<number> {
  const started = performance.now();
  const limit = Math.min(gate.maxWaitMs, budget.leftMs);
  for (let i = 0; i < 1_000 && performance.now() - started < limit; i++) {
    const a = readCpuTicks();
    await sleep(250);
    const b = readCpuTicks();
    if (a === undefined || b === undefined) break;
    if ((b.busy - a.busy) / TICKS_PER_SEC / 0.25 < gate.maxBusyCores) break;
  }
  const waited = performance.now() - started;
  budget.leftMs = Math.max(0, budget.leftMs - waited);
  return waited;
}
