import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

/**
 * `npm run test:fast`: the pure and in-process tiers, for the edit-test loop. No child
 * processes, no Debian peers, no browser: the chart (machines, rendering), the host on PGlite
 * (actors), the database layer on PGlite (db), the HTTP API through inject (http), config and
 * secrets. About a minute on two shared cores (host tests run on controlled time); each PGlite a
 * file opens costs ~1.4 s.
 *
 * Left to `npm test`: test/model (its path exploration alone takes ~60 s, at collection),
 * test/cli (runs the bin as a child), test/crash (kills processes), test/drivers and test/e2e
 * (real ipmi_sim/libvirtd/Redfish/webhook peers, child processes), test/browser (Chromium).
 */
export default defineConfig({
  ...base,
  test: {
    // Replaces the base list (mergeConfig would append to it).
    ...base.test,
    include: [
      'test/chart/**/*.test.ts',
      'test/machines/**/*.test.ts',
      'test/actors/**/*.test.ts',
      'test/db/**/*.test.ts',
      'test/http/**/*.test.ts',
      'test/*.test.ts',
    ],
    // vitest runs one file at a time on two cores; two overlap the waits on PGlite and timers.
    maxWorkers: 2,
  },
});
