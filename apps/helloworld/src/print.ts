import { codeName, RpcError } from '@mini-rpc/protocol';

/** Prints a section heading: `== 2. Service discovery ==`. */
export function heading(title: string): void {
  console.log(`\n== ${title} ==`);
}

/** Prints one indented line of a section. */
export function say(text: string): void {
  console.log(`  ${text}`);
}

/** Prints `label` in a column of its own, then `text`: `typed proxy            greeter.hello(...) -> ...`. */
export function item(label: string, text: string): void {
  say(`${label.padEnd(23)} ${text}`);
}

/** Prints rows as a left-aligned table under a header row, columns two spaces apart. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const format = (cells: readonly string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  say(format(header));
  for (const row of rows) say(format(row));
}

/** `0.91 s`-style duration for people. */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

/** An error as a person reads it: `NotFound: unknown method 'Greeter.bye'`. */
export function describeError(err: unknown): string {
  if (err instanceof RpcError) return `${codeName(err.code)}: ${err.rawMessage}`;
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
