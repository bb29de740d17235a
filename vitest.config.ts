import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
    // bin/switchboard.js runs the built dist/ by default; the tests run the TypeScript as it is
    // now. test/cli/dist.test.ts clears it to run the built bin.
    env: { RUN_SWITCHBOARD_FROM_SOURCE: '1' },
  },
});
