import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'bootstrap/**/*.test.ts'],
    // The cluster tests start a real API server: `npm run test:cluster` runs them on their own.
    exclude: ['test/cluster/**', 'node_modules/**'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    reporters: ['default'],
  },
});
