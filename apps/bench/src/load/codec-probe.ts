import type { Codec, CodecSchema } from '@mini-rpc/codec';
import { Bench } from 'tinybench';
import { codecRoundTripTask } from '../micro/codec-tasks.js';
import { taskFigures } from '../micro/report.js';

/** How long the probe times the codec, after its warm-up: short, as it runs after every order case. */
export interface ProbeTiming {
  readonly timeMs: number;
  readonly warmupMs: number;
}

export const PROBE_TIMING: ProbeTiming = { timeMs: 400, warmupMs: 100 };

/**
 * The micro bench's encode+decode row of `message`, timed again in this process right after a load window:
 * the median µs per operation. The host's speed drifts over a long run (2× seen here), so the calls/s of the
 * ~1 KiB case is held against the codec's cost measured at the same moment, not at the start of the run.
 */
export async function probeCodecRoundTrip(
  codec: Codec,
  message: unknown,
  schema: CodecSchema,
  timing: ProbeTiming = PROBE_TIMING,
): Promise<number> {
  const bench = new Bench({
    name: 'codec probe',
    time: timing.timeMs,
    warmupTime: timing.warmupMs,
    timestampProvider: 'hrtimeNow',
    subtractTimerOverhead: true,
    throws: true,
  });
  let sink: unknown;
  bench.add(codecRoundTripTask(codec), () => {
    sink = codec.decode(codec.encode(message, schema), schema);
  });
  await bench.run();
  if (sink === undefined) throw new Error(`codec ${codec.name} decoded nothing`);
  const [row] = taskFigures(bench);
  if (row === undefined) throw new Error('codec probe: no result');
  return row.p50Us;
}
