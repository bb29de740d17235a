/**
 * One node brought back from its row and stored snapshot: its driver, its decrypted params, older
 * chart versions migrated, settings attached, the actor started. A node that cannot be restored is
 * kept as faulted (it takes no requests and says why) without blocking the others.
 */
import type { NodeRecord } from '../db/repositories/nodes.ts';
import type { DriverName, PowerDriver } from '../drivers/types.ts';
import { SNAPSHOT_MIGRATIONS } from '../machines/migrations.ts';
import { MACHINE_VERSION } from '../machines/node-machine.ts';
import { STATUSES } from '../machines/types.ts';
import { decryptParams, type SecretKey } from '../secrets.ts';
import { newRuntime, startActor, type NodeRuntime } from './node-runtime.ts';
import { nodeSettings } from './node-settings.ts';
import { attachSettings } from './stored-snapshot.ts';

export type DriverRegistry = Partial<Record<DriverName, PowerDriver<never>>>;

export interface StoredSnapshot {
  machineVersion: number;
  seq: number;
  snapshot: unknown;
  updatedAt: Date;
}

export interface RestoreDeps {
  drivers: DriverRegistry;
  secretKey: SecretKey;
  /** Migrations of older snapshots, keyed by the version they migrate from. */
  migrations?: Readonly<Record<number, (snapshot: unknown) => unknown>>;
  log: { error(obj: object, msg?: string): void };
}

export function driverNamed(drivers: DriverRegistry, name: string): PowerDriver | null {
  return (drivers[name as DriverName] as PowerDriver | undefined) ?? null;
}

export function restoreNode(record: NodeRecord, stored: StoredSnapshot | null, deps: RestoreDeps): NodeRuntime {
  const node = newRuntime(record);
  try {
    const driver = driverNamed(deps.drivers, record.driver);
    if (!driver) throw new Error(`the ${record.driver} driver is not available in this build`);
    node.driver = driver;
    node.params = decryptParams(record.params, driver.secretParams, deps.secretKey);
    const settings = nodeSettings(record, driver.capabilities(node.params));
    if (!stored) {
      node.actor = startActor(node, { settings });
      node.committedState = node.actor.getSnapshot();
      return node;
    }
    let snapshot = stored.snapshot;
    for (let v = stored.machineVersion; v < MACHINE_VERSION; v++) {
      const migrate = (deps.migrations ?? SNAPSHOT_MIGRATIONS)[v];
      if (!migrate) throw new Error(`snapshot of chart version ${stored.machineVersion} has no migration to version ${MACHINE_VERSION}`);
      snapshot = migrate(snapshot);
    }
    if (stored.machineVersion > MACHINE_VERSION) throw new Error(`snapshot is from a newer chart (version ${stored.machineVersion})`);
    const status = (snapshot as { status?: unknown } | null)?.status;
    if (status !== 'active') throw new Error(`snapshot status is ${String(status)}, not active`);
    node.actor = startActor(node, { snapshot: attachSettings(snapshot, settings) });
    const restoredStatus: unknown = node.actor.getSnapshot().context?.status;
    if (!(STATUSES as readonly unknown[]).includes(restoredStatus)) throw new Error(`snapshot has no valid lifecycle status (${String(restoredStatus)})`);
    node.stagedSeq = node.committedSeq = stored.seq;
    node.committedState = node.actor.getSnapshot();
    node.updatedAt = stored.updatedAt;
  } catch (err) {
    node.actor?.stop();
    node.actor = null;
    node.fault = `could not restore: ${err instanceof Error ? err.message : String(err)}`;
    deps.log.error({ node: node.id, name: record.name, err }, 'node could not be restored; it is shown as faulted');
  }
  return node;
}
