import { defineConfig, mergeConfig } from 'vitest/config';
import { sharedConfig } from '../../tooling/vitest.shared.js';

export default mergeConfig(sharedConfig, defineConfig({ test: { globalSetup: ['./test/global-setup.ts'] } }));
