import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatabaseOpenError, openDatabase, redactUrl } from '../../src/db/connect.ts';
import { DataDirLockedError } from '../../src/db/datadir-lock.ts';
import { migrations } from '../../db/migrations/index.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { insertNode } from '../../src/db/repositories/nodes.ts';
import { describeEachBackend } from '../support/database.ts';
import { newNode, nodeByName } from './fixtures.ts';

describe('embedded PGlite in a data directory', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'switchboard-db-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates the directory, and the data survives closing and reopening', async () => {
    const dataDir = join(dir, 'nested', 'data');
    const first = await openDatabase({ dataDir });
    expect(first.backend).toBe('pglite');
    expect((await migrateToLatest(first.db)).applied).toEqual(Object.keys(migrations));
    await insertNode(first.db, newNode({ name: 'survivor', params: { host: '10.0.0.1' } }));
    await first.close();

    const second = await openDatabase({ dataDir });
    try {
      expect((await migrateToLatest(second.db)).applied).toEqual([]);
      const node = await nodeByName(second.db, 'survivor');
      expect(node?.params).toEqual({ host: '10.0.0.1' });
    } finally {
      await second.close();
    }
  });

  it('refuses a second open of the same directory while the first is open', async () => {
    const dataDir = join(dir, 'locked');
    const first = await openDatabase({ dataDir });
    try {
      await expect(openDatabase({ dataDir })).rejects.toBeInstanceOf(DataDirLockedError);
    } finally {
      await first.close();
    }
    const again = await openDatabase({ dataDir });
    await again.close();
  });

  it('takes over a lock left by a process that is gone', async () => {
    const dataDir = join(dir, 'stale');
    const first = await openDatabase({ dataDir });
    await first.close();
    // Linux pids never exceed 2^22 (the largest pid_max), so no live process has this one.
    await writeFile(join(dataDir, 'pglite.lock'), `${2 ** 22 + 1}\n`);
    const second = await openDatabase({ dataDir });
    await second.close();
  });

  it('keeps an in-memory database when asked, ignoring dataDir', async () => {
    const handle = await openDatabase({ dataDir: join(dir, 'unused'), pglite: 'memory' });
    try {
      expect(handle.location).toBe('memory');
      const rows = await sql<{ one: number }>`select 1 as one`.execute(handle.db);
      expect(rows.rows).toEqual([{ one: 1 }]);
    } finally {
      await handle.close();
    }
  });

  it('closing twice is harmless', async () => {
    const handle = await openDatabase({ dataDir: '', pglite: 'memory' });
    await handle.close();
    await expect(handle.close()).resolves.toBeUndefined();
  });
});

describe('PostgreSQL connection errors', () => {
  it('names the server (without the password) when it cannot connect', async () => {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    const attempt = openDatabase({ databaseUrl: 'postgres://bob:hunter2@127.0.0.1:1/nowhere', dataDir: '' });
    await expect(attempt).rejects.toBeInstanceOf(DatabaseOpenError);
    await expect(attempt).rejects.toThrow(/cannot connect to PostgreSQL at postgres:\/\/bob:\*\*\*@127\.0\.0\.1:1\/nowhere/);
    await expect(attempt).rejects.not.toThrow(/hunter2/);
  });

  it('redacts passwords in URLs', () => {
    expect(redactUrl('postgresql://u:secret@db:5432/x')).toBe('postgresql://u:***@db:5432/x');
    expect(redactUrl('postgres://db/x')).toBe('postgres://db/x');
  });
});

describeEachBackend('value types', (t) => {
  it('returns int8 as numbers and timestamptz as Dates', async () => {
    const result = await sql<{ big: unknown; count: unknown; at: unknown }>`
      select 9007199254740991::int8 as big, count(*) as count, now() as at`.execute(t.db);
    const row = result.rows[0];
    expect(row?.big).toBe(Number.MAX_SAFE_INTEGER);
    expect(row?.count).toBe(1);
    expect(row?.at).toBeInstanceOf(Date);
  });
});
