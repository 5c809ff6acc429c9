import { defineConfig } from 'vitest/config';

/**
 * Shared vitest settings for every package and app.
 * esbuild lowers TC39 decorators only when the target is below esnext (TOOLCHAIN.md).
 */
export const sharedConfig = defineConfig({
  esbuild: { target: 'node20' },
  test: {
    environment: 'node',
    testTimeout: 20_000,
    hookTimeout: 30_000,
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    reporters: process.env.VITEST_JSON ? ['default', 'json'] : ['default'],
    outputFile: process.env.VITEST_JSON ? { json: '.vitest-report.json' } : {},
  },
});
