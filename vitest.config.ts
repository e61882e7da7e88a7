import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'bootstrap/**/*.test.ts'],
    // The cluster and first-deploy tests start a real API server: `npm run test:cluster` and
    // `npm run test:e2e` run them on their own.
    exclude: ['test/cluster/**', 'test/e2e/**/*.e2e.test.ts', 'node_modules/**'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    reporters: ['default'],
  },
});
