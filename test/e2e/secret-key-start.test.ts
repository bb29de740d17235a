/**
 * The real `src/server.ts` start path: a secret key that does not fit the stored data stops the
 * start with a message naming SWITCHBOARD_SECRET_KEY, and so does DATABASE_URL without a key.
 * The legacy case (data from before the fingerprint was recorded) is checked in process.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHost } from '../../src/actors/host.ts';
import { loadConfig } from '../../src/config.ts';
import { migrateToLatest, openDatabase, type DatabaseHandle } from '../../src/db/index.ts';
import { createIpmiDriver } from '../../src/drivers/ipmi.ts';
import { KEY_FINGERPRINT_META, assertSecretKeyMatchesData } from '../../src/secret-key-check.ts';
import { loadSecretKey } from '../../src/secrets.ts';

const TSX = join(process.cwd(), 'node_modules', '.bin', 'tsx');
const SERVER = join(process.cwd(), 'src', 'server.ts');
const KEY_A = 'a1'.repeat(32);
const KEY_B = 'b2'.repeat(32);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts the server; resolves when it exits, or once it listens (then stops it with SIGTERM). */
function runServer(env: Record<string, string>): Promise<Run & { listened: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(TSX, [SERVER], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', PORT: '0', HOST: '127.0.0.1', SWITCHBOARD_LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let listened = false;
    // Generous: tsx and PGlite start slowly on a loaded machine.
    const killer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      if (!listened && stdout.includes('Server listening at')) {
        listened = true;
        child.kill('SIGTERM');
      }
    });
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr, listened });
    });
  });
}

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'switchboard-key-'));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('secret key at start (real server process)', () => {
  it('starts with key A, refuses key B naming SWITCHBOARD_SECRET_KEY, starts again with key A', async () => {
    const first = await runServer({ SWITCHBOARD_DATA_DIR: dataDir, SWITCHBOARD_SECRET_KEY: KEY_A });
    expect(first.listened, first.stderr + first.stdout.slice(-500)).toBe(true);
    expect(first.code).toBe(0);

    const wrong = await runServer({ SWITCHBOARD_DATA_DIR: dataDir, SWITCHBOARD_SECRET_KEY: KEY_B });
    expect(wrong.listened).toBe(false);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/could not start: the secret key from SWITCHBOARD_SECRET_KEY \(fingerprint [0-9a-f]{8}\) is not the key/);
    expect(wrong.stderr).toMatch(/set SWITCHBOARD_SECRET_KEY to it, or restore the secret\.key file/);
    expect(wrong.stdout).not.toMatch(/host started/);

    const again = await runServer({ SWITCHBOARD_DATA_DIR: dataDir, SWITCHBOARD_SECRET_KEY: KEY_A });
    expect(again.listened, again.stderr + again.stdout.slice(-500)).toBe(true);
  }, 120_000);

  it('refuses DATABASE_URL without SWITCHBOARD_SECRET_KEY before touching the database', async () => {
    // Port 1 has no PostgreSQL: the check must come before any connection attempt.
    const run = await runServer({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none', SWITCHBOARD_DATA_DIR: dataDir });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/configuration error: SWITCHBOARD_SECRET_KEY: must be set when DATABASE_URL is set/);
    expect(run.stderr).not.toMatch(/ECONNREFUSED|could not connect/i);
  }, 30_000);
});

describe('assertSecretKeyMatchesData', () => {
  let handle: DatabaseHandle;
  beforeAll(async () => {
    handle = await openDatabase({ dataDir: '', pglite: 'memory' });
    await migrateToLatest(handle.db);
  });
  afterAll(async () => {
    await handle?.close();
  });

  it('checks stored envelopes when no fingerprint was recorded, then records it', async () => {
    const keyA = await loadSecretKey({ secretKey: KEY_A, dataDir: '' });
    const keyB = await loadSecretKey({ secretKey: KEY_B, dataDir: '' });
    const config = loadConfig({ SWITCHBOARD_SYNC_INTERVAL_MS: '0' });
    const host = createHost({ db: handle.db, drivers: { ipmi: createIpmiDriver() }, config, secretKey: keyA, bootQueries: false });
    await host.start();
    // Created through the host: the password is stored as an envelope of key A.
    await host.createNode({ name: 'legacy', driver: 'ipmi', params: { host: '127.0.0.1', port: 1, user: 'u', password: 'pw' } }, { requestedBy: 'test' });
    await host.stop();
    expect(await handle.db.selectFrom('meta').select('key').where('key', '=', KEY_FINGERPRINT_META).executeTakeFirst()).toBeUndefined();

    await expect(assertSecretKeyMatchesData(handle.db, keyB)).rejects.toThrow(
      new RegExp(`fingerprint ${keyB.fingerprint}\\) is not the key .* \\(fingerprint ${keyA.fingerprint}\\)`),
    );
    // The failed check recorded nothing, so the right key still passes and is then recorded.
    await assertSecretKeyMatchesData(handle.db, keyA);
    await assertSecretKeyMatchesData(handle.db, keyA);
    await expect(assertSecretKeyMatchesData(handle.db, keyB)).rejects.toThrow(/SWITCHBOARD_SECRET_KEY/);
  });
});
