/** The persistence layer's public surface, for the host, the HTTP layer and scripts. */
export { openDatabase, redactUrl, DatabaseOpenError, type Backend, type DatabaseHandle, type OpenDatabaseOptions } from './connect.ts';
export { DataDirLockedError } from './datadir-lock.ts';
export { migrateToLatest, MigrationFailedError, type MigrateResult } from './migrate.ts';
export { commitBatch, isEmptyBatch, StaleSnapshotError, type CommitBatch, type CommitResult } from './commit-batch.ts';
export { loadFleet, type FleetEntry } from './load-fleet.ts';
export { inTransaction, type Executor } from './executor.ts';
export { isUniqueViolation, isForeignKeyViolation, isCheckViolation, violatedConstraint, sqlState, NODE_NAME_CONSTRAINT } from './errors.ts';
export { InvalidPageRequestError, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, type Page } from './paging.ts';
export * from './repositories/nodes.ts';
export * from './repositories/snapshots.ts';
export * from './repositories/ops.ts';
export * from './repositories/events.ts';
export * from './repositories/tokens.ts';
export * from './repositories/meta.ts';
export type * from './schema.ts';
export { TOKEN_ROLES } from './schema.ts';
