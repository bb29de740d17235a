/**
 * Brings the schema up to date with Kysely's Migrator. Migrations come from the static map in
 * db/migrations/index.ts. The Migrator holds an advisory lock, so two instances starting at
 * once apply each migration once.
 */
import { Migrator, type Kysely, type MigrationProvider, type Migration } from 'kysely';
import { migrations as allMigrations } from '../../db/migrations/index.ts';

export class MigrationFailedError extends Error {
  constructor(message: string, readonly migration: string | undefined, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MigrationFailedError';
  }
}

export interface MigrateResult {
  /** Names of the migrations this call applied, in order; empty when already up to date. */
  readonly applied: string[];
}

export interface MigrateOptions {
  /** Defaults to db/migrations/index.ts; tests pass their own to provoke failures. */
  readonly migrations?: Readonly<Record<string, Migration>>;
}

function provider(migrations: Readonly<Record<string, Migration>>): MigrationProvider {
  return { getMigrations: () => Promise.resolve({ ...migrations }) };
}

// The generic is erased on purpose: the Migrator writes its own bookkeeping tables.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function migrateToLatest(db: Kysely<any>, options: MigrateOptions = {}): Promise<MigrateResult> {
  const migrator = new Migrator({ db, provider: provider(options.migrations ?? allMigrations) });
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results.find((r) => r.status === 'Error')?.migrationName;
    const reason = error instanceof Error ? error.message : String(error);
    const message = failed === undefined
      ? `database migration failed: ${reason}`
      : `database migration ${failed} failed (the whole run was rolled back): ${reason}`;
    throw new MigrationFailedError(message, failed, { cause: error });
  }
  return { applied: results.filter((r) => r.status === 'Success').map((r) => r.migrationName) };
}
