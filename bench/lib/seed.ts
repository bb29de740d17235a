/**
 * Fills a database with sim nodes the fast way: multi-row inserts straight into `nodes` and
 * `node_snapshots`, with snapshots produced by the real machine (so a restore reads exactly what
 * the host would have written). Ids sort in creation order: node_000000, node_000001, ...
 */
import { createActor } from 'xstate';
import type { Kysely } from 'kysely';
import type { Database } from '../../src/db/index.ts';
import { upsertSnapshots } from '../../src/db/index.ts';
import { createSimDriver, SimBmcFleet, type SimParams } from '../../src/drivers/sim/index.ts';
import { nodeSettings } from '../../src/actors/node-settings.ts';
import { DEFAULT_SETTINGS, MACHINE_VERSION, nodeMachine } from '../../src/machines/node-machine.ts';
import type { NodeSettings, Status } from '../../src/machines/types.ts';
import { storedSnapshotOf } from '../../src/actors/stored-snapshot.ts';

export const seededId = (i: number): string => `node_${i.toString().padStart(6, '0')}`;

/** `broken` permits every user power op (the gating table), so benches can turn nodes on and off. */
export type SeedStatus = Extract<Status, 'new' | 'broken'>;

/** The settings the host derives for a sim node with these params (see settingsFor in the host). */
export function simSettings(params: SimParams): NodeSettings {
  return nodeSettings(DEFAULT_SETTINGS, createSimDriver({ fleet: new SimBmcFleet() }).capabilities(params));
}

/** A stored snapshot (as the host writes it) of an idle node in the given status, made by the real machine. */
export function idleSnapshot(settings: NodeSettings, status: SeedStatus): { snapshot: unknown; observed: 'unknown'; desired: null } {
  const actor = createActor(nodeMachine, { input: { settings } });
  actor.start();
  if (status === 'broken') actor.send({ type: 'mark_broken', opId: 'op_seed', at: Date.now() });
  const state = actor.getSnapshot();
  if (state.context.status !== status) throw new Error(`seeding: the machine is in ${state.context.status}, expected ${status}`);
  const snapshot = storedSnapshotOf(state);
  actor.stop();
  return { snapshot, observed: 'unknown', desired: null };
}

export interface SeedOptions {
  readonly count: number;
  readonly status?: SeedStatus;
  readonly params?: SimParams;
  /** Rows per statement. */
  readonly chunk?: number;
}

export async function seedSimNodes(db: Kysely<Database>, options: SeedOptions): Promise<string[]> {
  const params = options.params ?? {};
  const status = options.status ?? 'new';
  const chunk = options.chunk ?? 1000;
  const { snapshot } = idleSnapshot(simSettings(params), status);
  const paramsJson = JSON.stringify(params);
  const ids: string[] = [];
  for (let from = 0; from < options.count; from += chunk) {
    const rows = [];
    for (let i = from; i < Math.min(options.count, from + chunk); i++) {
      const id = seededId(i);
      ids.push(id);
      rows.push({ id, name: `bench-${i}`, driver: 'sim', bmc: `sim:${id}`, params: paramsJson });
    }
    await db.insertInto('nodes').values(rows).execute();
    await upsertSnapshots(db, rows.map((r) => ({ nodeId: r.id, machineVersion: MACHINE_VERSION, seq: 1, snapshot, status, observed: 'unknown', desired: null })));
  }
  return ids;
}
