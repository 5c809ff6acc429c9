import { fileURLToPath } from 'node:url';
import { mergeConfig } from 'vitest/config';
import { sharedConfig } from '../../tooling/vitest.shared.js';

// The README snippet imports the public name; point it at the source so the test needs no build.
export default mergeConfig(sharedConfig, {
  resolve: {
    alias: { '@mini-rpc/balancer': fileURLToPath(new URL('./src/index.ts', import.meta.url)) },
  },
});
