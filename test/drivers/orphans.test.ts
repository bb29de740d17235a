/**
 * No orphans (invariant 10, issue 12 item 5): a driver command's process dies with the service.
 * Real processes throughout: a service-like child (orphans-service.ts) runs a real ipmitool
 * through runCommand against a BMC that never answers (so ipmitool keeps retrying for ~20 s),
 * then the test SIGKILLs the service alone, its whole process group, the spawn helper alone, and
 * the helper together with the service, and checks that no ipmitool (and no helper) survives.
 *
 * Needs ipmitool (Debian package `ipmitool`) and, for the parent-death signal, setpriv (Debian
 * package `util-linux`). Without them these tests say so and step aside, unless
 * SWITCHBOARD_REQUIRE_PEERS=1, where they fail.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSilentBmc, type SilentBmc } from '../peers/silent-bmc.ts';
import { IPMITOOL, SETPRIV, requirePeers } from '../support/peers.ts';
import type { OrphanServiceLine, OrphanServiceOptions } from './orphans-service.ts';
import { startJsonLinesChild } from '../support/json-lines-child.ts';
import { alive, statFields } from '../support/procfs.ts';

const SERVICE = fileURLToPath(new URL('./orphans-service.ts', import.meta.url));
/** How long a killed command may take to die. Measured: a few ms; this is for slow CI. */
const DIE_WITHIN_MS = 3_000;

const peers = requirePeers('test/drivers/orphans.test.ts (no orphan driver command after a SIGKILL)', [IPMITOOL]);
const parentDeath = peers && requirePeers('test/drivers/orphans.test.ts: the parent-death test', [SETPRIV]);

function processGroupOf(pid: number): number {
  return Number(statFields(pid)?.[2]);
}

function argv0Of(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
  } catch {
    return '';
  }
}

/** Polls until the process is gone; resolves with how long that took, rejects after limitMs. */
async function diesWithin(pid: number, since: number, limitMs: number, what: string): Promise<number> {
  for (;;) {
    if (!alive(pid)) return performance.now() - since;
    if (performance.now() - since > limitMs) throw new Error(`${what} (pid ${pid}) still runs ${limitMs} ms after the kill: an orphan`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function until(check: () => boolean, limitMs: number, what: string): Promise<void> {
  const deadline = performance.now() + limitMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${limitMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Service {
  readonly child: ChildProcess;
  readonly pid: number;
  next<T extends OrphanServiceLine['type']>(type: T, timeoutMs: number): Promise<Extract<OrphanServiceLine, { type: T }>>;
  readonly exited: Promise<void>;
}

/** The service leads its own process group (detached), so the test can kill the whole group. */
function startService(options: OrphanServiceOptions): Service {
  const service = startJsonLinesChild<OrphanServiceLine>(SERVICE, options, { keepStderr: 4_000 });
  started.push(service.child);
  let taken = 0;
  return {
    child: service.child,
    pid: service.pid,
    exited: service.exited,
    async next(type, timeoutMs) {
      // Lines are taken in order: each call waits for the next line of its type after the last one taken.
      const line = await service.waitFor((l) => l.type === type, `"${type}" from the service`, timeoutMs, taken);
      taken = service.lines.indexOf(line) + 1;
      return line as never;
    },
  };
}

interface Running {
  readonly service: Service;
  readonly ipmitool: number;
  readonly helper: number;
  readonly pdeathsig: boolean | null;
}

let bmc: SilentBmc;
const started: ChildProcess[] = [];
/** Pids a failed test might leave behind; killed after each test. */
const watched: number[] = [];
const measured: string[] = [];

/** Starts the service and waits until its ipmitool is really talking to the silent BMC. */
async function runIpmitool(options: Omit<OrphanServiceOptions, 'port'> = {}): Promise<Running> {
  const service = startService({ port: bmc.port, ...options });
  const before = bmc.packets();
  const spawned = await service.next('spawned', 15_000);
  watched.push(spawned.pid, spawned.helper);
  expect(spawned.argv[0]).toBe('ipmitool');
  // Exec'd (through setpriv, same pid) and sending: a real ipmitool in the middle of a command.
  await until(() => argv0Of(spawned.pid) === 'ipmitool', 5_000, 'ipmitool to be exec\'d');
  await bmc.waitForPackets(before + 1, 5_000);
  expect(alive(spawned.pid)).toBe(true);
  expect(statFields(spawned.pid)?.[1]).toBe(String(spawned.helper));
  return { service, ipmitool: spawned.pid, helper: spawned.helper, pdeathsig: spawned.pdeathsig };
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // gone
  }
}

describe.runIf(peers)('no orphan driver command after a SIGKILL (real ipmitool, silent BMC)', () => {
  beforeAll(async () => {
    bmc = await startSilentBmc();
  });

  afterEach(async () => {
    for (const child of started.splice(0)) {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) kill(-child.pid, 'SIGKILL');
      child.stdin?.destroy();
    }
    for (const pid of watched.splice(0)) {
      if (alive(pid)) kill(pid, 'SIGKILL');
    }
  });

  afterAll(async () => {
    await bmc?.stop();
    if (measured.length > 0) console.log(`orphan checks (time from SIGKILL until the process was gone):\n  ${measured.join('\n  ')}`);
  });

  it('SIGKILL of the service alone: ipmitool and the helper die with it', async () => {
    const r = await runIpmitool();
    const t0 = performance.now();
    kill(r.service.pid, 'SIGKILL');
    const ipmitoolMs = await diesWithin(r.ipmitool, t0, DIE_WITHIN_MS, 'ipmitool');
    const helperMs = await diesWithin(r.helper, t0, DIE_WITHIN_MS, 'the spawn helper');
    measured.push(`service alone: ipmitool ${ipmitoolMs.toFixed(1)} ms, helper ${helperMs.toFixed(1)} ms`);
  });

  it('SIGKILL of the service\'s whole process group: ipmitool and the helper die with it', async () => {
    const r = await runIpmitool();
    // The point of the test: the helper and ipmitool are outside the service's group.
    expect(processGroupOf(r.service.pid)).toBe(r.service.pid);
    expect(processGroupOf(r.helper)).not.toBe(r.service.pid);
    expect(processGroupOf(r.ipmitool)).toBe(r.ipmitool);
    const t0 = performance.now();
    kill(-r.service.pid, 'SIGKILL');
    const ipmitoolMs = await diesWithin(r.ipmitool, t0, DIE_WITHIN_MS, 'ipmitool');
    const helperMs = await diesWithin(r.helper, t0, DIE_WITHIN_MS, 'the spawn helper');
    measured.push(`service's process group: ipmitool ${ipmitoolMs.toFixed(1)} ms, helper ${helperMs.toFixed(1)} ms`);
  });

  it('SIGKILL of the helper alone: ipmitool dies and the service learns that the command failed', async () => {
    const r = await runIpmitool();
    const t0 = performance.now();
    kill(r.helper, 'SIGKILL');
    const ipmitoolMs = await diesWithin(r.ipmitool, t0, DIE_WITHIN_MS, 'ipmitool');
    const failed = await r.service.next('failed', 5_000);
    expect(failed).toMatchObject({ kind: 'unreachable' });
    expect(failed.message).toMatch(/spawn helper/);
    expect(alive(r.service.pid)).toBe(true);
    measured.push(`helper alone: ipmitool ${ipmitoolMs.toFixed(1)} ms`);
  });

  it.runIf(parentDeath)('SIGKILL of the helper and the service together: the parent-death signal kills ipmitool', async () => {
    const r = await runIpmitool();
    expect(r.pdeathsig).toBe(true);
    // Stopped first, so the service cannot kill the command's group when the helper dies, and
    // the helper is killed before its channel closes: only the kernel's parent-death signal is left.
    kill(r.service.pid, 'SIGSTOP');
    const t0 = performance.now();
    kill(r.helper, 'SIGKILL');
    kill(-r.service.pid, 'SIGKILL');
    const ipmitoolMs = await diesWithin(r.ipmitool, t0, DIE_WITHIN_MS, 'ipmitool');
    measured.push(`helper and service together: ipmitool ${ipmitoolMs.toFixed(1)} ms`);
  });

  it('without setpriv (fallback): SIGKILL of the service\'s process group still leaves no ipmitool', async () => {
    const r = await runIpmitool({ setpriv: false });
    expect(r.pdeathsig).toBe(false);
    const t0 = performance.now();
    kill(-r.service.pid, 'SIGKILL');
    const ipmitoolMs = await diesWithin(r.ipmitool, t0, DIE_WITHIN_MS, 'ipmitool');
    const helperMs = await diesWithin(r.helper, t0, DIE_WITHIN_MS, 'the spawn helper');
    measured.push(`no setpriv, service's process group: ipmitool ${ipmitoolMs.toFixed(1)} ms, helper ${helperMs.toFixed(1)} ms`);
  });
});
