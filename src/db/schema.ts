/**
 * Kysely table types. Column names are the SQL ones (snake_case); repositories map rows to
 * camelCase records so nothing above src/db/ sees SQL naming.
 *
 * int8 columns come back as JS numbers on both backends (connect.ts sets the pg parser);
 * every int8 here stays far below 2^53.
 */
import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';
import type { Desired, DriftPolicy, Observed, OpState, Origin, PowerAction } from '../machines/types.ts';

/*
 * The chart's words are the columns' words: the column types are the chart's types
 * (src/machines/types.ts). The CHECK constraints of db/migrations/0001 hold the same lists
 * (a landed migration is never edited).
 */

/** Who an API token is: the role decides what it may do (src/http/auth.ts). */
export const TOKEN_ROLES = ['viewer', 'operator', 'admin'] as const;
export type TokenRole = (typeof TOKEN_ROLES)[number];

/** A timestamptz: read as Date, written as Date or ISO string. */
type Timestamp = ColumnType<Date, Date | string, Date | string>;
type TimestampDefaultNow = ColumnType<Date, Date | string | undefined, Date | string>;
/** jsonb: read parsed; written as a JSON string (both drivers pass it through untouched). */
type Json<T> = ColumnType<T, string, string>;

export interface NodesTable {
  id: string;
  name: string;
  driver: string;
  bmc: string;
  /** Driver params; secret fields are already encrypted by the caller. */
  params: Json<Record<string, unknown>>;
  drift_policy: ColumnType<DriftPolicy, DriftPolicy | undefined, DriftPolicy>;
  /** A soft_off that misses its deadline escalates to a hard off (else the op fails). */
  soft_off_escalate: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: TimestampDefaultNow;
  updated_at: TimestampDefaultNow;
  /** Soft delete: the node's ops and events stay as history (invariant 8). */
  deleted_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export interface NodeSnapshotsTable {
  node_id: string;
  machine_version: number;
  /** Per node, strictly increasing; an upsert with seq <= the stored one is refused. */
  seq: number;
  snapshot: Json<unknown>;
  /** Denormalised from the snapshot for filtering and listing. */
  status: string;
  observed: Observed;
  desired: Desired;
  updated_at: TimestampDefaultNow;
}

export interface PowerOpsTable {
  id: string;
  node_id: string;
  action: PowerAction;
  origin: Origin;
  requested_by: string | null;
  state: OpState;
  error: string | null;
  attempts: ColumnType<number, number | undefined, number>;
  requested_at: Timestamp;
  started_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  finished_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export interface NodeEventsTable {
  id: Generated<number>;
  node_id: string;
  at: Timestamp;
  kind: string;
  origin: Origin | null;
  /** Who caused it: the API caller (token name) for API requests, else null. */
  actor: string | null;
  op_id: string | null;
  detail: Json<Record<string, unknown>>;
}

export interface ApiTokensTable {
  id: string;
  name: string;
  /** sha256 of the token, lowercase hex. The token itself is never stored. */
  token_hash: string;
  role: TokenRole;
  created_at: TimestampDefaultNow;
  last_used_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  revoked_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export interface MetaTable {
  key: string;
  value: Json<unknown>;
  updated_at: TimestampDefaultNow;
}

export interface Database {
  nodes: NodesTable;
  node_snapshots: NodeSnapshotsTable;
  power_ops: PowerOpsTable;
  node_events: NodeEventsTable;
  api_tokens: ApiTokensTable;
  meta: MetaTable;
}

export type NodeRow = Selectable<NodesTable>;
export type NewNodeRow = Insertable<NodesTable>;
export type NodeRowUpdate = Updateable<NodesTable>;
export type SnapshotDbRow = Selectable<NodeSnapshotsTable>;
export type OpDbRow = Selectable<PowerOpsTable>;
export type EventDbRow = Selectable<NodeEventsTable>;
export type TokenDbRow = Selectable<ApiTokensTable>;
