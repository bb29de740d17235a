/**
 * The `node_snapshots` table: each node's persisted actor snapshot. `seq` makes every write a
 * compare-and-set: the commit function (commit-function.ts), through which every snapshot write
 * goes, refuses a write whose seq is not above the stored one.
 */
import { callCommitFunction, EMPTY_PAYLOAD, latestPerNode, StaleSnapshotError } from '../commit-function.ts';
import { epochMs, toJson, type Executor } from '../executor.ts';
import type { Desired, Observed } from '../../machines/types.ts';
import type { SnapshotDbRow } from '../schema.ts';

export interface SnapshotRecord {
  readonly nodeId: string;
  readonly machineVersion: number;
  readonly seq: number;
  /** The actor's persisted snapshot, parsed. */
  readonly snapshot: unknown;
  readonly status: string;
  readonly observed: Observed;
  readonly desired: Desired;
  readonly updatedAt: Date;
}

/** What the host writes. updatedAt defaults to the transaction's now(). */
export type SnapshotWrite = Omit<SnapshotRecord, 'updatedAt'> & { readonly updatedAt?: Date };

export interface UpsertSnapshotsResult {
  /** Node ids whose snapshot was written: all of them, or none. */
  readonly written: string[];
  /** Node ids whose stored seq was equal or higher (then nothing was written). */
  readonly stale: string[];
}

export function toSnapshotRecord(row: SnapshotDbRow): SnapshotRecord {
  return {
    nodeId: row.node_id,
    machineVersion: row.machine_version,
    seq: row.seq,
    snapshot: row.snapshot,
    status: row.status,
    observed: row.observed,
    desired: row.desired,
    updatedAt: row.updated_at,
  };
}

/** The JSON array snapshot writes go to the commit function as (one row per node: fold first; updated_at in epoch ms). */
export function snapshotPayload(unique: readonly SnapshotWrite[]): string {
  return toJson(unique.map((r) => ({
    node_id: r.nodeId,
    machine_version: r.machineVersion,
    seq: r.seq,
    snapshot: r.snapshot,
    status: r.status,
    observed: r.observed,
    desired: r.desired,
    updated_at: epochMs(r.updatedAt),
  })));
}

/**
 * Writes many snapshots in one call of the commit function, all or nothing: when any seq is not
 * above the stored one nothing is written and those nodes are reported stale (inside a caller's
 * transaction that refusal aborts the transaction, as any failed statement does).
 */
export async function upsertSnapshots(db: Executor, rows: readonly SnapshotWrite[]): Promise<UpsertSnapshotsResult> {
  const unique = latestPerNode(rows);
  if (unique.length === 0) return { written: [], stale: [] };
  try {
    await callCommitFunction(db, snapshotPayload(unique), EMPTY_PAYLOAD, EMPTY_PAYLOAD);
  } catch (err) {
    if (err instanceof StaleSnapshotError) return { written: [], stale: err.nodeIds };
    throw err;
  }
  return { written: unique.map((r) => r.nodeId), stale: [] };
}

export async function getSnapshot(db: Executor, nodeId: string): Promise<SnapshotRecord | undefined> {
  const row = await db.selectFrom('node_snapshots').selectAll().where('node_id', '=', nodeId).executeTakeFirst();
  return row === undefined ? undefined : toSnapshotRecord(row);
}
