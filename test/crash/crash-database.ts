/**
 * A database a child process can reach: a PostgreSQL database created for the run when
 * DATABASE_URL is set, else a PGlite data dir in a temp dir. PGlite is single-process: the
 * child owns it while it runs, and the parent opens it only while no child is alive (the
 * data-dir lock of a killed child is taken over, its pid being gone).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openDatabase, type DatabaseHandle } from '../../src/db/connect.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';

export type CrashBackend = 'pglite' | 'postgres';

/** Where the child finds the database (passed to it as JSON). */
export type DatabaseTarget = { readonly databaseUrl: string } | { readonly dataDir: string };

export interface CrashDatabase {
  readonly backend: CrashBackend;
  readonly target: DatabaseTarget;
  /** Opens (and migrates) the database from this process. For PGlite: only while no child runs. */
  open(): Promise<DatabaseHandle>;
  /** For PostgreSQL: the server URL with admin rights, for pg_terminate_backend. */
  readonly serverUrl: string | undefined;
  readonly name: string | undefined;
  dispose(): Promise<void>;
}

export function postgresServerUrl(): string | undefined {
  const url = process.env.DATABASE_URL;
  return url === undefined || url === '' ? undefined : url;
}

export async function withAdmin<T>(serverUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function createCrashDatabase(backend: CrashBackend): Promise<CrashDatabase> {
  if (backend === 'pglite') {
    const dir = await mkdtemp(join(tmpdir(), 'switchboard-crash-'));
    const target = { dataDir: dir };
    return {
      backend,
      target,
      serverUrl: undefined,
      name: undefined,
      open: () => openMigrated(target),
      dispose: () => rm(dir, { recursive: true, force: true }),
    };
  }
  const serverUrl = postgresServerUrl();
  if (serverUrl === undefined) throw new Error('the postgres crash backend needs DATABASE_URL');
  const name = `switchboard_crash_${process.pid}_${randomBytes(4).toString('hex')}`;
  await withAdmin(serverUrl, (c) => c.query(`create database "${name}"`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const target = { databaseUrl: url.toString() };
  return {
    backend,
    target,
    serverUrl,
    name,
    open: () => openMigrated(target),
    dispose: async () => {
      await withAdmin(serverUrl, (c) => c.query(`drop database if exists "${name}" with (force)`));
    },
  };
}

export async function openMigrated(target: DatabaseTarget): Promise<DatabaseHandle> {
  const handle = 'databaseUrl' in target
    ? await openDatabase({ databaseUrl: target.databaseUrl, dataDir: '', poolSize: 4 })
    : await openDatabase({ dataDir: target.dataDir });
  try {
    await migrateToLatest(handle.db);
  } catch (err) {
    await handle.close();
    throw err;
  }
  return handle;
}

/** The crash tests run against PostgreSQL when DATABASE_URL is set (CI), else against PGlite. */
export function crashBackend(): CrashBackend {
  return postgresServerUrl() === undefined ? 'pglite' : 'postgres';
}
