import type { Bench } from 'tinybench';

/** One task's figures, per operation. */
export interface TaskFigures {
  name: string;
  /** Mean latency per operation, µs. */
  meanUs: number;
  p50Us: number;
  p99Us: number;
  /** Relative margin of error of the mean, %. */
  rme: number;
  samples: number;
}

/**
 * A figure held to a target of the issue: one row's µs, or the ratio of two rows. Judged on the median,
 * which survives a shared, busy machine (a descheduled sample inflates the mean); the mean is kept beside it.
 */
export interface Target {
  name: string;
  /** The row, or the rows `[numerator, denominator]`, the figure comes from. */
  rows: string | [string, string];
  byMedian: number;
  byMean: number;
  target: string;
  met: boolean;
}

/** Per-operation figures of every completed task, in µs (tinybench reports ms). */
export function taskFigures(bench: Bench): TaskFigures[] {
  const rows: TaskFigures[] = [];
  for (const task of bench.tasks) {
    const result = task.result;
    if (result.state !== 'completed') throw new Error(`bench task "${task.name}" ended ${result.state}`);
    const { latency } = result;
    rows.push({
      name: task.name,
      meanUs: latency.mean * 1000,
      p50Us: latency.p50 * 1000,
      p99Us: latency.p99 * 1000,
      rme: latency.rme,
      samples: latency.samplesCount,
    });
  }
  return rows;
}

function row(rows: readonly TaskFigures[], name: string): TaskFigures {
  const found = rows.find((r) => r.name === name);
  if (found === undefined) throw new Error(`no bench row "${name}"`);
  return found;
}

/** Builds a target row from one row's µs or a ratio of two rows; `check` decides on the median. */
export function target(
  rows: readonly TaskFigures[],
  name: string,
  from: string | [string, string],
  [text, check]: [string, (value: number) => boolean],
): Target {
  let byMedian: number;
  let byMean: number;
  if (typeof from === 'string') {
    ({ p50Us: byMedian, meanUs: byMean } = row(rows, from));
  } else {
    const [top, bottom] = [row(rows, from[0]), row(rows, from[1])];
    byMedian = top.p50Us / bottom.p50Us;
    byMean = top.meanUs / bottom.meanUs;
  }
  return { name, rows: from, byMedian, byMean, target: text, met: check(byMedian) };
}

/** Target rows for console.table. */
export function printableTargets(targets: readonly Target[]): Record<string, string>[] {
  return targets.map((t) => ({
    figure: t.name,
    'by median': t.byMedian.toFixed(3),
    'by mean': t.byMean.toFixed(3),
    target: t.target,
    met: t.met ? 'yes' : 'NO',
  }));
}

/** Rows for console.table: figures rounded for reading. */
export function printable(rows: readonly TaskFigures[]): Record<string, string | number>[] {
  return rows.map((r) => ({
    task: r.name,
    'mean µs': r.meanUs.toFixed(3),
    'p50 µs': r.p50Us.toFixed(3),
    'p99 µs': r.p99Us.toFixed(3),
    '±%': r.rme.toFixed(2),
    samples: r.samples,
  }));
}
