/**
 * Every migration, by name, in the order they run. A static map (not a directory scan) so it
 * works the same under tsx, vitest and a bundler; test/db/migrate.test.ts fails when a file in
 * this folder is missing here.
 */
import type { Migration } from 'kysely';
import * as initial from './0001_initial.ts';
import * as commitBatchFunction from './0002_commit_batch_function.ts';
import * as commitBatchV2 from './0003_commit_batch_v2.ts';
import * as dropUnusedSnapshotIndexes from './0004_drop_unused_snapshot_indexes.ts';

export const migrations: Readonly<Record<string, Migration>> = {
  '0001_initial': initial,
  '0002_commit_batch_function': commitBatchFunction,
  '0003_commit_batch_v2': commitBatchV2,
  '0004_drop_unused_snapshot_indexes': dropUnusedSnapshotIndexes,
};
