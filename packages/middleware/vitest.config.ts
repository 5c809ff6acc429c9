import { fileURLToPath } from 'node:url';
import { defineConfig, mergeConfig } from 'vitest/config';
import { sharedConfig } from '../../tooling/vitest.shared.js';

// Tests import the package by its public name, resolved to the sources (no build needed to test).
export default mergeConfig(
  sharedConfig,
  defineConfig({
    resolve: { alias: { '@mini-rpc/middleware': fileURLToPath(new URL('./src/index.ts', import.meta.url)) } },
  }),
);
