import { defineConfig } from 'vitest/config';
import { peerSummaryReporter } from './test/support/peers.ts';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two files at a time on the 2-core machines this runs on: the slow-BMC and crash files mostly
    // wait on real peers, so one at a time left a core idle for minutes (17 min instead of ~9).
    maxWorkers: 2,
    // The summary repeats, at the end, which suites stepped aside for a missing Debian peer.
    reporters: ['default', peerSummaryReporter()],
    // bin/switchboard.js runs the built dist/ by default; the tests run the TypeScript as it is
    // now. test/cli/dist.test.ts clears it to run the built bin.
    env: { RUN_SWITCHBOARD_FROM_SOURCE: '1' },
  },
});
