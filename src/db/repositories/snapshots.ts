/**
 * The `node_snapshots` table: each node's persisted actor snapshot. `seq` makes every write a
 * compare-and-set: a write whose seq is not above the stored one changes nothing.
 */
import { sql } from 'kysely';
import { epochMs, toJson, type Executor } from '../executor.ts';
import type { DesiredPower, ObservedPower, SnapshotDbRow } from '../schema.ts';

export interface SnapshotRecord {
  readonly nodeId: string;
  readonly machineVersion: number;
  readonly seq: number;
  /** The actor's persisted snapshot, parsed. */
  readonly snapshot: unknown;
  readonly status: string;
  readonly observed: ObservedPower;
  readonly desired: DesiredPower;
  readonly updatedAt: Date;
}

/** What the host writes. updatedAt defaults to the transaction's now(). */
export interface SnapshotWrite {
  readonly nodeId: string;
  readonly machineVersion: number;
  readonly seq: number;
  readonly snapshot: unknown;
  readonly status: string;
  readonly observed: ObservedPower;
  readonly desired: DesiredPower;
  readonly updatedAt?: Date;
}

export interface UpsertSnapshotsResult {
  /** Node ids whose snapshot was written. */
  readonly written: string[];
  /** Node ids refused because the stored seq was equal or higher. */
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

/** Keeps the highest seq per node: one statement cannot upsert the same row twice. */
export function latestPerNode(rows: readonly SnapshotWrite[]): SnapshotWrite[] {
  const byNode = new Map<string, SnapshotWrite>();
  for (const row of rows) {
    const seen = byNode.get(row.nodeId);
    if (seen === undefined || row.seq > seen.seq) byNode.set(row.nodeId, row);
  }
  return [...byNode.values()];
}

/** The JSON array a batch of snapshot writes goes to the database as (one row per node; updated_at in epoch ms). */
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

/** Upserts many snapshots in one statement, each guarded by its seq. */
export async function upsertSnapshots(db: Executor, rows: readonly SnapshotWrite[]): Promise<UpsertSnapshotsResult> {
  const unique = latestPerNode(rows);
  if (unique.length === 0) return { written: [], stale: [] };
  const payload = snapshotPayload(unique);
  const result = await sql<{ node_id: string }>`
    insert into node_snapshots (node_id, machine_version, seq, snapshot, status, observed, desired, updated_at)
    select r.node_id, r.machine_version, r.seq, r.snapshot, r.status, r.observed, r.desired, coalesce(to_timestamp(r.updated_at / 1000.0), now())
    from jsonb_to_recordset(${payload}::jsonb) as r(
      node_id text, machine_version integer, seq bigint, snapshot jsonb,
      status text, observed text, desired text, updated_at double precision)
    on conflict (node_id) do update set
      machine_version = excluded.machine_version,
      seq = excluded.seq,
      snapshot = excluded.snapshot,
      status = excluded.status,
      observed = excluded.observed,
      desired = excluded.desired,
      updated_at = excluded.updated_at
    where node_snapshots.seq < excluded.seq
    returning node_id`.execute(db);
  const written = new Set(result.rows.map((r) => r.node_id));
  return {
    written: [...written],
    stale: unique.filter((r) => !written.has(r.nodeId)).map((r) => r.nodeId),
  };
}

export async function getSnapshot(db: Executor, nodeId: string): Promise<SnapshotRecord | undefined> {
  const row = await db.selectFrom('node_snapshots').selectAll().where('node_id', '=', nodeId).executeTakeFirst();
  return row === undefined ? undefined : toSnapshotRecord(row);
}

/**
 * Every live node's snapshot, in node id order, a batch at a time (keyset paging), so a boot
 * of 100,000 nodes never holds more than one batch of parsed rows. A batch may hold fewer than
 * batchSize rows when deleted nodes' snapshots are skipped.
 */
export async function* loadSnapshots(db: Executor, options: { batchSize?: number } = {}): AsyncGenerator<SnapshotRecord[]> {
  const batchSize = options.batchSize ?? 1000;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive whole number, got ${batchSize}`);
  let after: string | undefined;
  for (;;) {
    let query = db.selectFrom('node_snapshots').selectAll();
    if (after !== undefined) query = query.where('node_id', '>', after);
    const rows = await query.orderBy('node_id').limit(batchSize).execute();
    const last = rows[rows.length - 1]?.node_id;
    if (last === undefined) return;
    // Bounded range scans, not a join (a merge join can rescan from the first snapshot on every
    // batch, see load-fleet.ts): deleteNode drops a snapshot, but a
    // commit racing the delete may write one back, so deleted nodes are filtered here.
    let deleted = db.selectFrom('nodes').select('id').where('id', '<=', last).where('deleted_at', 'is not', null);
    if (after !== undefined) deleted = deleted.where('id', '>', after);
    const skip = new Set((await deleted.execute()).map((r) => r.id));
    const live = rows.filter((r) => !skip.has(r.node_id)).map(toSnapshotRecord);
    if (live.length > 0) yield live;
    if (rows.length < batchSize) return;
    after = last;
  }
}
