/**
 * `npm run test:cluster`: the tests against a real API server (docs/testing.md). One control plane
 * for the run (global-setup.ts); files run one after another in name order on it.
 */
import { resolve } from 'node:path';
import { defineConfig } from 'vitest/config';
import NameOrderSequencer from './sequencer.ts';

export default defineConfig({
  root: resolve(import.meta.dirname, '..', '..'),
  test: {
    include: ['test/cluster/**/*.test.ts'],
    globalSetup: ['test/cluster/global-setup.ts'],
    fileParallelism: false,
    sequence: { sequencer: NameOrderSequencer },
    pool: 'forks',
    testTimeout: 600_000,
    hookTimeout: 600_000,
    reporters: ['default'],
  },
});
