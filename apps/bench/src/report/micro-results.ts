import { existsSync, readFileSync } from 'node:fs';

/** One row of results/micro.json as the micro bench writes it. */
export interface MicroTask {
  readonly name: string;
  readonly meanUs: number;
  readonly p50Us: number;
}

/** What the report uses of results/micro.json. */
export interface MicroResults {
  readonly date: string;
  readonly quick: boolean;
  readonly tasks: readonly MicroTask[];
  readonly encodedBytes?: Record<string, number>;
}

/** Reads results/micro.json, or `undefined` when it is missing or not in the expected shape. */
export function readMicroResults(file: string): MicroResults | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const data = JSON.parse(readFileSync(file, 'utf8')) as Partial<MicroResults>;
    if (!Array.isArray(data.tasks)) return undefined;
    const tasks = data.tasks.filter(
      (t): t is MicroTask =>
        typeof t?.name === 'string' && typeof t.p50Us === 'number' && typeof t.meanUs === 'number',
    );
    return {
      date: String(data.date ?? ''),
      quick: data.quick === true,
      tasks,
      ...(data.encodedBytes === undefined ? {} : { encodedBytes: data.encodedBytes }),
    };
  } catch {
    return undefined;
  }
}

/** The codec's encode+decode of the ~1 KiB order message, µs per operation (median), if measured. */
export function codecRoundTripUs(micro: MicroResults | undefined, codec: string): number | undefined {
  return micro?.tasks.find((t) => t.name === `codec ${codec} encode+decode 1KiB`)?.p50Us;
}
