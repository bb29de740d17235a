/**
 * A database of its own for each figure: PGlite files in a temp dir by default, or — when
 * DATABASE_URL is set — a dedicated database created on that server and dropped afterwards.
 * Figures open it as often as they like (a cold restore reopens it) and children can open it
 * from its spec.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { migrateToLatest, openDatabase, redactUrl, type Backend, type DatabaseHandle } from '../../src/db/index.ts';

/** Everything needed to open the database, also from another process. */
export interface BenchDatabaseSpec {
  readonly backend: Backend;
  readonly databaseUrl?: string;
  readonly dataDir: string;
}

export interface BenchDatabase {
  readonly spec: BenchDatabaseSpec;
  readonly label: string;
  open(options?: { poolSize?: number }): Promise<DatabaseHandle>;
  dispose(): Promise<void>;
}

export function describeBackend(serverUrl: string | undefined): string {
  return serverUrl === undefined
    ? 'PGlite on disk (temp dir); set DATABASE_URL to measure PostgreSQL'
    : `PostgreSQL at ${redactUrl(serverUrl)} (a dedicated database per figure)`;
}

export function openSpec(spec: BenchDatabaseSpec, options: { poolSize?: number } = {}): Promise<DatabaseHandle> {
  return openDatabase({ databaseUrl: spec.databaseUrl, dataDir: spec.dataDir, poolSize: options.poolSize });
}

async function withAdmin(serverUrl: string, fn: (client: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await fn(client);
  } finally {
    await client.end();
  }
}

/** A new, migrated, empty database. */
export async function createBenchDatabase(serverUrl: string | undefined, purpose: string): Promise<BenchDatabase> {
  const dataDir = await mkdtemp(join(tmpdir(), `switchboard-bench-${purpose}-`));
  let spec: BenchDatabaseSpec;
  let drop = async (): Promise<void> => undefined;
  if (serverUrl === undefined) {
    spec = { backend: 'pglite', dataDir };
  } else {
    const name = `switchboard_bench_${purpose}_${process.pid}_${randomBytes(3).toString('hex')}`;
    await withAdmin(serverUrl, (c) => c.query(`create database "${name}"`));
    drop = () => withAdmin(serverUrl, (c) => c.query(`drop database if exists "${name}" with (force)`));
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    spec = { backend: 'postgres', databaseUrl: url.toString(), dataDir };
  }
  const dispose = async (): Promise<void> => {
    try {
      await drop();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  };
  try {
    const handle = await openSpec(spec);
    try {
      await migrateToLatest(handle.db);
    } finally {
      await handle.close();
    }
  } catch (err) {
    await dispose();
    throw err;
  }
  return {
    spec,
    label: spec.backend === 'pglite' ? `PGlite in ${dataDir}` : `PostgreSQL ${redactUrl(spec.databaseUrl!)}`,
    open: (options) => openSpec(spec, options),
    dispose,
  };
}
