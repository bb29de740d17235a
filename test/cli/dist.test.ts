/**
 * The `switchboard` bin as users run it: plain Node on the JavaScript in dist/ (built by
 * scripts/build.mjs through `prepare`), not the TypeScript through tsx that the other CLI tests
 * run. It catches what only the build can break: an import specifier left as `.ts`, a file the
 * code finds next to itself at run time (the UI folder, the spawn helper) missing from dist/.
 *
 * dist/ is built here when it is missing or older than a file in src/ or db/. Nothing from src/
 * is imported (so not ./support.ts, which starts the stack from the sources).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BUILT_CLI = join(ROOT, 'dist/src/cli/main.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function distIsCurrent(): boolean {
  if (!existsSync(BUILT_CLI)) return false;
  const sources = Math.max(newestMtime(join(ROOT, 'src')), newestMtime(join(ROOT, 'db')));
  return statSync(BUILT_CLI).mtimeMs >= sources;
}

const BIN = join(ROOT, 'bin/switchboard.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The bin from a directory outside the repo, as an installed bin runs, with the parent's
 * environment minus Switchboard settings and the switch that makes it run the TypeScript.
 */
function spawnBuilt(args: readonly string[], extra: Record<string, string> = {}): ChildProcess {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('SWITCHBOARD_') && k !== 'DATABASE_URL' && k !== 'RUN_SWITCHBOARD_FROM_SOURCE') env[k] = v;
  }
  return spawn(process.execPath, [BIN, ...args], { cwd: tmpdir(), env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
}

function collect(child: ChildProcess, timeoutMs = 30_000): Promise<Run> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the bin did not finish in ${timeoutMs} ms; stdout: ${stdout}; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function firstMatch(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no output matching ${pattern} in ${timeoutMs} ms; got: ${seen}`)), timeoutMs);
    child.stdout?.on('data', (chunk: Buffer | string) => {
      seen += String(chunk);
      const match = pattern.exec(seen);
      if (match !== null) {
        clearTimeout(timer);
        resolve(match);
      }
    });
  });
}

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

const dirs: string[] = [];

beforeAll(() => {
  if (distIsCurrent()) return;
  const build = spawnSync(process.execPath, [join(ROOT, 'scripts/build.mjs')], { cwd: ROOT, encoding: 'utf8', timeout: 170_000 });
  if (build.status !== 0) throw new Error(`npm run build failed (exit ${build.status ?? build.signal}):\n${build.stdout}${build.stderr}`);
}, 180_000);

afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('the built switchboard bin (dist/, plain Node)', () => {
  it('has the files the code resolves next to itself', () => {
    expect(existsSync(join(ROOT, 'dist/src/drivers/spawn-helper.js'))).toBe(true);
    expect(existsSync(join(ROOT, 'dist/src/http/ui/index.html'))).toBe(true);
  });

  it('prints the help with exit 0', async () => {
    const run = await collect(spawnBuilt(['--help']));
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: switchboard COMMAND/);
    for (const command of ['serve', 'nodes ls', 'power', 'lifecycle', 'watch', 'token']) expect(run.stdout).toContain(command);
  });

  it('refuses an unknown command with exit 2', async () => {
    const run = await collect(spawnBuilt(['frobnicate']));
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('unknown command "frobnicate"');
  });

  it('serves a demo fleet (migrations, UI) that the built CLI lists, and stops on SIGINT with exit 0', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'switchboard-dist-serve-'));
    dirs.push(dataDir);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const server = spawnBuilt(['serve', '--demo', '2'], { PORT: String(port), SWITCHBOARD_DATA_DIR: dataDir, SWITCHBOARD_LOG_LEVEL: 'warn', SWITCHBOARD_SYNC_INTERVAL_MS: '0' });
    const stopped = collect(server, 60_000);
    try {
      const token = (await firstMatch(server, /store it now:\s+(\S+)\s/, 40_000))[1] ?? '';
      let ls: Run = { code: null, stdout: '', stderr: '' };
      let nodes: { name: string }[] = [];
      // The token is printed before the server listens, and the demo fleet is seeded after.
      for (let i = 0; i < 50 && nodes.length < 2; i++) {
        ls = await collect(spawnBuilt(['nodes', 'ls', '--json', '--url', url, '--token', token]));
        nodes = ls.code === 0 ? (JSON.parse(ls.stdout) as { name: string }[]) : [];
        if (nodes.length < 2) await new Promise((r) => setTimeout(r, 200));
      }
      expect(ls.stderr).toBe('');
      expect(ls.code).toBe(0);
      expect(nodes).toHaveLength(2);
      const page = await fetch(`${url}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<html');
    } finally {
      server.kill('SIGINT');
    }
    expect((await stopped).code).toBe(0);
  }, 60_000);
});
