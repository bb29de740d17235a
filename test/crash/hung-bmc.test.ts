/**
 * A hung BMC at scale (invariant 9): 80 nodes behind one BMC that never answers (a hypervisor), 200 nodes
 * behind 50 healthy BMCs, all asked at once. The healthy ones converge in bounded time; the hung
 * ones hold one command for their BMC and nothing else.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimBmcFleet } from '../../src/drivers/sim/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { buildTestHost } from '../support/host.ts';
import { crashBackend } from './crash-database.ts';
import { createFleet, waitIdle } from './fleet-load.ts';

const HEALTHY = 200;
/** More than the global cap (64): a limiter that let the hung BMC's queue take global slots would stall all. */
const HUNG = 80;
const caller = { requestedBy: 'fault-test' };

describe.each([crashBackend()])('a hung BMC among 50 healthy ones [%s]', (backend) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase(backend);
  }, 60_000);
  afterAll(async () => {
    await database?.dispose();
  });

  it('never delays the 200 nodes behind other BMCs', async () => {
    const fleet = new SimBmcFleet({ bmcLimit: 1 });
    const { host } = buildTestHost(database.db, { fleet });
    try {
      await host.start();
      // The hung nodes first, so they are at the head of every queue.
      const hung = await createFleet(host, HUNG, { nodesPerBmc: HUNG, latencyMs: 5, prefix: 'hung', bmcOf: () => 'hung-bmc', timeoutMs: 60_000, initialPower: 'on' });
      const healthy = await createFleet(host, HEALTHY, { nodesPerBmc: 4, latencyMs: 5, prefix: 'fine', initialPower: 'on' });
      await waitIdle(host, 20_000);
      for (const id of hung) fleet.setFault(id, { hang: true });

      const t0 = Date.now();
      const answers = await Promise.all([...hung, ...healthy].map((id) => host.requestPower(id, 'off', caller)));
      expect(answers.every((a) => a.result === 'accepted')).toBe(true);
      const settledMs = await waitIdle(host, 10_000, healthy);
      const elapsed = Date.now() - t0;

      // 50 BMCs × 4 nodes × (off + verify query) × 5 ms would be ~2 s if run one after another;
      // bounded well below a step deadline, and nothing waited for the hung BMC.
      expect(elapsed).toBeLessThan(5_000);
      for (const id of healthy) {
        expect(host.getNode(id)!.power.observed).toBe('off');
        expect(fleet.power(id)).toBe('off');
      }
      // The hung BMC holds its one command; the other nodes on it wait their turn.
      expect(hung.map((id) => host.getNode(id)!.power.phase)).toEqual(hung.map(() => 'dispatching'));
      expect(fleet.stats().inFlight).toBe(1);
      const report = fleet.overlaps();
      expect(report.nodeOverlaps).toBe(0);
      expect(report.bmcLimitViolations).toBe(0);
      expect(settledMs).toBeLessThan(5_000);
    } finally {
      await host.stop();
    }
  }, 60_000);
});
