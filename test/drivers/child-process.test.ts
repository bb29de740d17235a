/**
 * runCommand through the spawn helper: commands are children of the helper, not of this
 * process; output, exit status, the explicit environment, deadlines, start windows and aborts
 * behave as the drivers rely on; and a helper that dies is replaced. (That no command outlives
 * a killed service is in orphans.test.ts.)
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCommand } from '../../src/drivers/child-process.ts';
import { spawnHelperPdeathsig, spawnHelperPid, spawnViaHelper, type SpawnOutcome } from '../../src/drivers/spawner.ts';
import { DriverError } from '../../src/drivers/types.ts';
import { SETPRIV, requirePeers } from '../support/peers.ts';

const PATH = '/usr/bin:/bin';
const haveSetpriv = requirePeers('test/drivers/child-process.test.ts (the parent-death test)', [SETPRIV]);

function parentOf(pid: number): number {
  // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after ')'.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** Running, not merely a zombie waiting for a parent to reap it (an orphan's new parent may be slow). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

const sh = (script: string, extra: Partial<Parameters<typeof runCommand>[0]> = {}) =>
  runCommand({ command: 'sh', args: ['-c', script], env: { PATH }, signal: new AbortController().signal, timeoutMs: 5_000, ...extra });

describe('runCommand', () => {
  it('runs the command as a child of the spawn helper, not of the service', async () => {
    let parent = 0;
    const result = await sh('sleep 0.2; echo out; echo err >&2; exit 3', {
      onSpawn: ({ pid }) => {
        parent = parentOf(pid);
      },
    });
    expect(result).toMatchObject({ exitCode: 3, exitSignal: null, stdout: 'out\n', stderr: 'err\n' });
    expect(spawnHelperPid()).toBeGreaterThan(0);
    expect(parent).toBe(spawnHelperPid());
    expect(parent).not.toBe(process.pid);
  });

  it('passes only the given environment, plus LC_ALL=C', async () => {
    const result = await sh('env | sort', { env: { PATH, SECRET_FOR_THIS_CHILD: 'x' } });
    const names = result.stdout.trim().split('\n').map((l) => l.split('=')[0]);
    expect(names.filter((n) => n !== 'PWD' && n !== 'SHLVL' && n !== '_')).toEqual(['LC_ALL', 'PATH', 'SECRET_FOR_THIS_CHILD']);
  });

  it('keeps only maxOutputBytes of output', async () => {
    const result = await sh('head -c 100000 /dev/zero | tr "\\0" x', { maxOutputBytes: 1000 });
    expect(result.stdout).toHaveLength(1000);
  });

  it('kills the whole process group at the deadline, grandchildren included', async () => {
    let grandchild = 0;
    const started = performance.now();
    const err: unknown = await sh('sleep 31.25 & wait', { timeoutMs: 300, killGraceMs: 200 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DriverError);
    expect((err as DriverError).kind).toBe('timeout');
    expect(performance.now() - started).toBeLessThan(3_000);
    // The grandchild's pid is not in the result (the call failed), so find it by its parent group.
    const out = await sh('pgrep -f "^sleep 31.25$" || true');
    for (const line of out.stdout.trim().split('\n').filter(Boolean)) grandchild = Number(line);
    expect(grandchild === 0 || !alive(grandchild)).toBe(true);
  });

  it('stops at an abort and rejects with the abort', async () => {
    const controller = new AbortController();
    let pid = 0;
    const run = sh('sleep 30', { signal: controller.signal, onSpawn: (c) => (pid = c.pid) });
    await new Promise((r) => setTimeout(r, 150));
    controller.abort(new Error('operator gave up'));
    const err: unknown = await run.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DriverError);
    expect((err as DriverError).kind).toBe('aborted');
    expect(pid).toBeGreaterThan(0);
    expect(alive(pid)).toBe(false);
  });

  it('reports a missing program as a configuration error', async () => {
    const err: unknown = await runCommand({ command: 'no-such-program-switchboard', args: [], env: { PATH }, signal: new AbortController().signal, timeoutMs: 2_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DriverError);
    expect((err as DriverError).kind).toBe('config');
    expect((err as DriverError).message).toMatch(/cannot run no-such-program-switchboard: ENOENT/);
  });

  it('reports a program it may not execute as a configuration error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-noexec-'));
    try {
      const file = join(dir, 'not-executable');
      writeFileSync(file, '#!/bin/sh\necho ran\n', { mode: 0o644 });
      const err: unknown = await runCommand({ command: file, args: [], env: { PATH }, signal: new AbortController().signal, timeoutMs: 2_000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DriverError);
      expect((err as DriverError).kind).toBe('config');
      expect((err as DriverError).message).toMatch(/EACCES/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.runIf(haveSetpriv)('starts commands with a parent-death signal (setpriv), so they die if the helper is killed', async () => {
    // The helper falls back to a plain spawn without setpriv (orphans.test.ts).
    const result = await runCommand({ command: 'setpriv', args: ['--dump'], env: { PATH }, signal: new AbortController().signal, timeoutMs: 5_000 });
    expect(spawnHelperPdeathsig()).toBe(true);
    expect(result.stdout).toMatch(/^Parent death signal: KILL$/m);
  });

  it('refuses a command whose start window has closed, and starts nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-notafter-'));
    try {
      const marker = join(dir, 'ran');
      const notAfter = Date.now() - 1;
      let spawned = false;
      const err: unknown = await sh(`touch ${marker}`, { notAfter, onSpawn: () => (spawned = true) }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DriverError);
      expect((err as DriverError).kind).toBe('not_sent');
      expect((err as DriverError).mayStillRun).toBe(false);
      expect((err as DriverError).message).toBe(`sh was not started: its start window closed at ${new Date(notAfter).toISOString()}`);
      expect(spawned).toBe(false);
      expect(existsSync(marker)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('checks the start window in the helper, at the spawn', async () => {
    // Straight to the helper, past runCommand: the refusal is the helper's own.
    const outcome = await new Promise<SpawnOutcome & { spawned: boolean }>((resolve) => {
      let spawned = false;
      spawnViaHelper({ command: 'true', args: [], env: { PATH }, maxOutputBytes: 1000, notAfter: Date.now() - 1 }, {
        onSpawn: () => (spawned = true),
        onDone: (o) => resolve({ ...o, spawned }),
      });
    });
    expect(outcome.spawned).toBe(false);
    expect(outcome.error?.code).toBe('ENOTAFTER');
  });

  it('runs a command whose start window is still open', async () => {
    const result = await sh('echo in time', { notAfter: Date.now() + 10_000 });
    expect(result).toMatchObject({ exitCode: 0, stdout: 'in time\n' });
  });

  it('fails a running command when the helper dies, and starts a new helper for the next one', async () => {
    const first = spawnHelperPid() ?? (await sh('true'), spawnHelperPid());
    expect(first).toBeGreaterThan(0);
    let orphan = 0;
    const running = sh('sleep 30', { onSpawn: (c) => (orphan = c.pid) });
    await new Promise((r) => setTimeout(r, 150));
    process.kill(first!, 'SIGKILL');
    const err: unknown = await running.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DriverError);
    expect((err as DriverError).message).toMatch(/spawn helper/);
    // The helper could not reap it, so the caller killed the command's group itself.
    await new Promise((r) => setTimeout(r, 100));
    expect(orphan).toBeGreaterThan(0);
    expect(alive(orphan)).toBe(false);
    const next = await sh('echo again');
    expect(next.stdout).toBe('again\n');
    expect(spawnHelperPid()).not.toBe(first);
  });
});
