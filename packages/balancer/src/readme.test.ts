import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';

describe('README', () => {
  it('shows test/readme-example.ts verbatim, and that example runs', async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    const example = await readFile(new URL('../test/readme-example.ts', import.meta.url), 'utf8');
    expect(readme).toContain(`\`\`\`ts\n${example}\`\`\``);
    // The example asserts its own results (node:assert) and throws if any is wrong.
    await expect(import('../test/readme-example.js')).resolves.toBeDefined();
  });
});
