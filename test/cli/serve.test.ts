/** `switchboard serve --demo N` starts the real server (embedded PGlite in a temp dir); the CLI then talks to it. */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { childEnv, collect, spawnBin, waitForOutput } from './support.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

describe('switchboard serve', () => {
  it('serves a demo fleet the CLI can list, prints the first admin token, stops on SIGINT with exit 0', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'switchboard-cli-serve-'));
    dirs.push(dataDir);
    const port = await freePort();
    const env = childEnv({ PORT: String(port), SWITCHBOARD_DATA_DIR: dataDir, SWITCHBOARD_LOG_LEVEL: 'warn', SWITCHBOARD_SYNC_INTERVAL_MS: '0' });
    const server = spawnBin(['serve', '--demo', '3'], env);
    const stopped = collect(server, 60_000);
    try {
      const banner = await waitForOutput(server.stdout, /store it now:\s+(\S+)\s/, 40_000);
      const token = /store it now:\s+(\S+)\s/.exec(banner)?.[1] ?? '';
      const url = `http://127.0.0.1:${port}`;
      let nodes: { name: string }[] = [];
      // The demo fleet is seeded just after the server starts listening.
      for (let i = 0; i < 50 && nodes.length < 3; i++) {
        const ls = await collect(spawnBin(['nodes', 'ls', '--json', '--url', url, '--token', token], childEnv({})));
        expect(ls.code).toBe(0);
        nodes = JSON.parse(ls.stdout) as { name: string }[];
        if (nodes.length < 3) await new Promise((r) => setTimeout(r, 200));
      }
      expect(nodes).toHaveLength(3);
    } finally {
      server.kill('SIGINT');
    }
    const run = await stopped;
    expect(run.code).toBe(0);
  }, 60_000);

  it('refuses bad flags with exit 2 before starting anything', async () => {
    const run = await collect(spawnBin(['serve', '--demo', 'lots'], childEnv({})));
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--demo: expected a whole number from 0 to 100000');
    const unknown = await collect(spawnBin(['serve', '--port', '80'], childEnv({})));
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("Unknown option '--port'");
  });
});
