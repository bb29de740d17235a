/**
 * What the host needs at boot: every live node with its snapshot (null if it never had one),
 * streamed in batches in node id order so 100,000 nodes never sit in memory twice.
 */
import { sql } from 'kysely';
import type { Executor } from './executor.ts';
import type { NodeRecord } from './repositories/nodes.ts';
import type { SnapshotRecord } from './repositories/snapshots.ts';

export interface FleetEntry {
  readonly node: NodeRecord;
  readonly snapshot: SnapshotRecord | null;
}

interface FetchedBatch {
  readonly entries: FleetEntry[];
  /** The id to page on from, or null when this was the last batch. */
  readonly next: string | null;
}

interface FleetRow {
  id: string;
  name: string;
  driver: string;
  bmc: string;
  params: Record<string, unknown>;
  drift_policy: NodeRecord['driftPolicy'];
  soft_off_escalate: boolean;
  created_ms: number;
  updated_ms: number;
  live: boolean;
  machine_version: number | null;
  seq: number | null;
  snapshot: unknown;
  status: string | null;
  observed: SnapshotRecord['observed'] | null;
  desired: SnapshotRecord['desired'];
  snapshot_updated_ms: number | null;
}

function fleetEntry(r: FleetRow): FleetEntry {
  const node: NodeRecord = {
    id: r.id,
    name: r.name,
    driver: r.driver,
    bmc: r.bmc,
    params: r.params,
    driftPolicy: r.drift_policy,
    softOffEscalate: r.soft_off_escalate,
    createdAt: new Date(r.created_ms),
    updatedAt: new Date(r.updated_ms),
    deletedAt: null,
  };
  if (r.machine_version === null || r.seq === null || r.status === null || r.observed === null || r.snapshot_updated_ms === null) return { node, snapshot: null };
  return {
    node,
    snapshot: { nodeId: r.id, machineVersion: r.machine_version, seq: r.seq, snapshot: r.snapshot, status: r.status, observed: r.observed, desired: r.desired, updatedAt: new Date(r.snapshot_updated_ms) },
  };
}

/**
 * One query per batch whose plan does not depend on fresh statistics: the primary key pages the
 * nodes and each node looks up its own snapshot. (A filter on deleted_at inside the paged scan let
 * a planner with stale statistics, right after a bulk import, pick the partial name index and
 * sort the table on every batch; a plain join let its merge join rescan the snapshots from the
 * first one, which made a boot quadratic.) Deleted nodes are skipped after the scan instead, so a
 * batch may hold fewer live nodes. Instants come as epoch milliseconds, cheaper to decode.
 */
async function fetchBatch(db: Executor, after: string, batchSize: number): Promise<FetchedBatch> {
  const { rows } = await sql<FleetRow>`
    select n.id, n.name, n.driver, n.bmc, n.params, n.drift_policy, n.soft_off_escalate,
      floor(extract(epoch from n.created_at) * 1000)::int8 as created_ms, floor(extract(epoch from n.updated_at) * 1000)::int8 as updated_ms,
      n.deleted_at is null as live,
      s.machine_version, s.seq, s.snapshot, s.status, s.observed, s.desired,
      floor(extract(epoch from s.updated_at) * 1000)::int8 as snapshot_updated_ms
    from (select * from nodes where id > ${after} order by id limit ${batchSize}) n
    left join lateral (select * from node_snapshots where node_id = n.id) s on true
    order by n.id`.execute(db);
  const entries: FleetEntry[] = [];
  for (const row of rows) if (row.live) entries.push(fleetEntry(row));
  return { entries, next: rows.length < batchSize ? null : rows[rows.length - 1]!.id };
}

/**
 * The next batch is already being read while the caller restores the current one: with a
 * server database the boot then waits on the round trips only once, not once per batch.
 */
export async function* loadFleet(db: Executor, options: { batchSize?: number } = {}): AsyncGenerator<FleetEntry[]> {
  const batchSize = options.batchSize ?? 5000;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive whole number, got ${batchSize}`);
  let pending: Promise<FetchedBatch> | null = fetchBatch(db, '', batchSize);
  try {
    while (pending) {
      const batch: FetchedBatch = await pending;
      pending = batch.next === null ? null : fetchBatch(db, batch.next, batchSize);
      if (batch.entries.length > 0) yield batch.entries;
    }
  } finally {
    // A caller that stops early leaves a read in flight; its outcome no longer matters.
    pending?.catch(() => {});
  }
}
