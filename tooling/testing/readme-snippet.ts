import { readFileSync } from 'node:fs';

/** A README's code snippet and the test region that runs it, cut so a test can compare them. */
export interface ReadmeSnippet {
  /** The first `importCount` lines of the README's first ```ts block. */
  imports: string[];
  /** The rest of that block, trimmed ('' if the README has no ```ts block). */
  snippet: string;
  /**
   * The code between `// #region readme` and `// #endregion readme` in the test file, with the 4 spaces of
   * indentation inside `it(…, () => { try { … } })` removed, trimmed ('' if the region is missing).
   */
  region: string;
}

/**
 * Reads the README at `readmeUrl` and the test file at `testUrl` (pass `import.meta.url`) and cuts out the
 * snippet and the region to compare; the test asserts on them. Throws if either file cannot be read.
 *
 * @example
 * const { imports, snippet, region } = readReadmeSnippet(new URL('../README.md', import.meta.url), import.meta.url, 1);
 * expect(imports).toEqual(["import { listen } from '@mini-rpc/transport';"]);
 * expect(snippet).toBe(region);
 */
export function readReadmeSnippet(readmeUrl: URL, testUrl: string | URL, importCount: number): ReadmeSnippet {
  const readme = readFileSync(readmeUrl, 'utf8');
  const self = readFileSync(new URL(testUrl), 'utf8');
  const region = /\/\/ #region readme\n([\s\S]*?)\n\s*\/\/ #endregion readme/.exec(self)?.[1] ?? '';
  const lines = (/```ts\n([\s\S]*?)\n```/.exec(readme)?.[1] ?? '').split('\n');
  return {
    imports: lines.slice(0, importCount),
    snippet: lines.slice(importCount).join('\n').trim(),
    region: region.replace(/^ {4}/gm, '').trim(),
  };
}
