import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { sql, type Kysely, type Migration } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { migrations } from '../../db/migrations/index.ts';
import { migrateToLatest, MigrationFailedError } from '../../src/db/migrate.ts';
import type { Database } from '../../src/db/schema.ts';
import { availableBackends, createTestDatabase, type TestDatabase } from '../support/database.ts';

const TABLES = ['api_tokens', 'meta', 'node_events', 'node_snapshots', 'nodes', 'power_ops'];

async function tableNames(db: Kysely<Database>): Promise<string[]> {
  const result = await sql<{ table_name: string }>`
    select table_name from information_schema.tables
    where table_schema = 'public' and table_name not like 'kysely_%' order by table_name`.execute(db);
  return result.rows.map((r) => r.table_name);
}

describe('migration files', () => {
  it('lists every file of db/migrations in the static map, in order', async () => {
    const dir = fileURLToPath(new URL('../../db/migrations/', import.meta.url));
    const files = (await readdir(dir)).filter((f) => /^\d{4}_.+\.ts$/.test(f)).map((f) => f.replace(/\.ts$/, '')).sort();
    expect(files.length).toBeGreaterThan(0);
    expect(Object.keys(migrations)).toEqual(files);
  });
});

describe.each(availableBackends())('migrateToLatest [%s]', (backend) => {
  let handle: TestDatabase | undefined;
  afterEach(async () => {
    await handle?.dispose();
    handle = undefined;
  });

  it('creates the schema from empty and is a no-op the second time', async () => {
    handle = await createTestDatabase(backend, { migrate: false });
    expect(await tableNames(handle.db)).toEqual([]);
    const first = await migrateToLatest(handle.db);
    expect(first.applied).toEqual(Object.keys(migrations));
    expect(await tableNames(handle.db)).toEqual(TABLES);
    const second = await migrateToLatest(handle.db);
    expect(second.applied).toEqual([]);
    expect(await tableNames(handle.db)).toEqual(TABLES);
  });

  it('reports the failing migration by name and rolls the whole run back', async () => {
    handle = await createTestDatabase(backend, { migrate: false });
    const broken: Migration = {
      up: async (db) => {
        await sql`create table half_done (id int)`.execute(db);
        await sql`select * from no_such_table`.execute(db);
      },
    };
    const attempt = migrateToLatest(handle.db, { migrations: { ...migrations, '9999_broken': broken } });
    await expect(attempt).rejects.toBeInstanceOf(MigrationFailedError);
    await expect(attempt).rejects.toMatchObject({ migration: '9999_broken', message: expect.stringContaining('no_such_table') });
    expect(await tableNames(handle.db)).toEqual([]);
  });

  it('refuses a database migrated by newer code', async () => {
    handle = await createTestDatabase(backend, { migrate: false });
    const newer: Migration = { up: async () => undefined };
    await migrateToLatest(handle.db, { migrations: { ...migrations, '9999_future': newer } });
    await expect(migrateToLatest(handle.db)).rejects.toThrow(/9999_future/);
  });
});
