/**
 * The database goes away mid-run under a stream of conflicting requests. PostgreSQL (when
 * DATABASE_URL is set): the test database refuses new connections and pg_terminate_backend
 * kills the host's; PGlite: every query fails by injection for the same stretch. Either way:
 * requests fail cleanly (503 database_unavailable, nothing else) while it is down, the host
 * reconnects by itself, nothing acknowledged is lost, no command overlaps, the fleet converges.
 */
import type { Kysely, KyselyPlugin } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../../src/db/connect.ts';
import type { Database } from '../../src/db/schema.ts';
import { SimBmcFleet } from '../../src/drivers/sim/index.ts';
import { createTestDatabase } from '../support/database.ts';
import { buildTestHost } from '../support/host.ts';
import { convergence, missingAckedOps } from './checks.ts';
import { crashBackend, createCrashDatabase, withAdmin } from './crash-database.ts';
import { createFleet, startLoad, waitIdle } from './fleet-load.ts';

const NODES = 200;
const OUTAGES = 3;
const OUTAGE_MS = 1_500;

interface Outage {
  down(): Promise<void>;
  up(): Promise<void>;
}

describe.each([crashBackend()])('database outage under load [%s]', (backend) => {
  let handle: DatabaseHandle;
  let dispose: () => Promise<void>;
  let db: Kysely<Database>;
  let outage: Outage;

  beforeAll(async () => {
    if (backend === 'postgres') {
      const created = await createCrashDatabase('postgres');
      handle = await created.open();
      db = handle.db;
      const name = created.name!;
      const admin = (q: string) => withAdmin(created.serverUrl!, (c) => c.query(q));
      outage = {
        async down() {
          await admin(`alter database "${name}" with allow_connections false`);
          await admin(`select pg_terminate_backend(pid) from pg_stat_activity where datname = '${name}' and pid <> pg_backend_pid()`);
        },
        async up() {
          await admin(`alter database "${name}" with allow_connections true`);
        },
      };
      dispose = async () => {
        await handle.close().catch(() => undefined);
        await created.dispose();
      };
    } else {
      const test = await createTestDatabase('pglite');
      handle = test;
      let failing = false;
      const injector: KyselyPlugin = {
        transformQuery(args) {
          if (failing) throw new Error('Connection terminated unexpectedly (injected)');
          return args.node;
        },
        transformResult: async (args) => args.result,
      };
      db = test.db.withPlugin(injector);
      outage = {
        down: async () => {
          failing = true;
        },
        up: async () => {
          failing = false;
        },
      };
      dispose = () => test.dispose();
    }
  }, 60_000);

  afterAll(async () => {
    await dispose?.();
  });

  it(`fails requests cleanly while it is down, reconnects by itself, and loses nothing acknowledged (${OUTAGES} outages)`, async () => {
    const fleet = new SimBmcFleet({ bmcLimit: 1 });
    const { host } = buildTestHost(db, { fleet });
    try {
      await host.start();
      const ids = await createFleet(host, NODES, { nodesPerBmc: 4, latencyMs: 3, prefix: 'outage' });
      await waitIdle(host, 20_000);
      const load = startLoad(host, ids, { perSecond: 200, seed: 42 });
      const downErrors: number[] = [];
      const recoveredInMs: number[] = [];
      for (let i = 0; i < OUTAGES; i++) {
        await new Promise((r) => setTimeout(r, 700));
        const before = load.tally.errors.database_unavailable ?? 0;
        await outage.down();
        await new Promise((r) => setTimeout(r, OUTAGE_MS));
        downErrors.push((load.tally.errors.database_unavailable ?? 0) - before);
        expect(host.stats().databaseAvailable).toBe(false);
        await outage.up();
        const back = Date.now();
        while (!host.stats().databaseAvailable) {
          if (Date.now() - back > 10_000) throw new Error('the host did not reconnect within 10 s');
          await new Promise((r) => setTimeout(r, 20));
        }
        recoveredInMs.push(Date.now() - back);
      }
      await new Promise((r) => setTimeout(r, 700));
      const tally = await load.stop();
      await waitIdle(host, 20_000);

      // Requests failed while it was down, and only cleanly.
      expect(tally.unexpected).toEqual([]);
      expect(Object.keys(tally.errors).filter((code) => code !== 'database_unavailable')).toEqual([]);
      for (const n of downErrors) expect(n).toBeGreaterThan(0);
      for (const ms of recoveredInMs) expect(ms).toBeLessThan(3_000);
      // And it takes requests again, without a restart.
      expect((await host.requestPower(ids[0]!, 'query', { requestedBy: 'fault-test' })).result).not.toBe('refused');
      await waitIdle(host, 10_000);

      // Nothing acknowledged is lost; nothing ran twice at once; the fleet converged.
      expect(tally.acked.size).toBeGreaterThan(50);
      expect(await missingAckedOps(db, [...tally.acked].map((opId) => ({ opId, nodeId: '', request: '', result: '' })))).toEqual([]);
      const report = fleet.overlaps();
      expect(report.nodeOverlaps).toBe(0);
      expect(report.bmcLimitViolations).toBe(0);
      const views = host.listNodes().map((n) => ({ id: n.id, status: n.status, desired: n.power.desired, observed: n.power.observed, lastError: n.power.lastError, fault: n.fault }));
      const result = convergence(views, fleet.powers());
      expect(result.stuck).toEqual([]);
      expect(result.converged + result.visiblyFailed + result.noIntent).toBe(NODES);
      expect(result.converged).toBeGreaterThan(20);
      // What the host shows is what is committed: no op is left open in the database.
      await new Promise((r) => setTimeout(r, 50));
      const open = await db.selectFrom('power_ops').select(['id', 'state']).where('state', 'in', ['pending', 'in_flight']).execute();
      expect(open).toEqual([]);
    } finally {
      await host.stop();
    }
  }, 90_000);
});
