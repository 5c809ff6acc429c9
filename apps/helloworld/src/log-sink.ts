/** A pino destination for the tour: prints the first lines of each kind to stdout and counts the rest. */
export interface LogSink {
  write(line: string): void;
  /** Lines not shown so far. */
  readonly hidden: number;
}

/**
 * Writes pino's JSON lines to stdout, indented, but at most `perKind` lines per message, status code and error, so a
 * burst of 80 refused calls prints one line rather than 80. A real service would log everything.
 */
export function createLogSink(perKind: number): LogSink {
  const seen = new Map<string, number>();
  let hidden = 0;
  return {
    write(line: string): void {
      let kind = line;
      try {
        const entry = JSON.parse(line) as { msg?: unknown; code?: unknown; error?: unknown };
        kind = `${String(entry.msg)}|${String(entry.code)}|${String(entry.error)}`;
      } catch {
        // Not JSON: every line is its own kind.
      }
      const n = (seen.get(kind) ?? 0) + 1;
      seen.set(kind, n);
      if (n > perKind) hidden++;
      else process.stdout.write(`    log ${line.endsWith('\n') ? line : `${line}\n`}`);
    },
    get hidden() {
      return hidden;
    },
  };
}
