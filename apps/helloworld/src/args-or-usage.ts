import type { ParseArgsConfig } from 'node:util';
import { parseArgs } from 'node:util';
import { userArgs } from './cli-options.js';

/**
 * Parses this process's arguments with `options`; on `--help` prints `usage` and exits 0, on a bad argument
 * prints the problem and `usage` and exits 2 (no stack trace for a typo).
 */
export function argsOrUsage<T extends NonNullable<ParseArgsConfig['options']>>(
  options: T,
  usage: string,
): ReturnType<typeof parseArgs<{ options: T; args: string[] }>>['values'] {
  try {
    const { values } = parseArgs({ args: userArgs(), options });
    if ((values as { help?: unknown }).help === true) {
      console.log(usage);
      process.exit(0);
    }
    return values;
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${usage}`);
    process.exit(2);
  }
}
