import { defineConfig } from 'vitest/config';

// Tests drive the built package in dist/ (the global setup builds it first), real processes and files.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['./test/global-setup.ts'],
    pool: 'forks',
    // Two cores: run two files at a time so real-writer tests are not starved.
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 60_000,
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
