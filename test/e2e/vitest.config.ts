/**
 * `npm run test:e2e`: the first deploy from git (docs/testing.md): an empty control plane brought
 * to every layer by Flux from a loopback git server, with the operators running. One file, one
 * control plane; the support modules' own tests (servers.test.ts) run in `npm test`.
 */
import { resolve } from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: resolve(import.meta.dirname, '..', '..'),
  test: {
    include: ['test/e2e/**/*.e2e.test.ts'],
    fileParallelism: false,
    pool: 'forks',
    testTimeout: 1_800_000,
    hookTimeout: 1_800_000,
    reporters: ['default'],
  },
});
