/**
 * The virsh driver against a real private libvirtd (test driver) and the real virsh.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SpawnedChild } from '../../src/drivers/child-process.ts';
import type { DriverTarget } from '../../src/drivers/types.ts';
import { createVirshDriver, readDomstate, type VirshParams } from '../../src/drivers/virsh.ts';
import { driverFailure, isAlive } from '../support/driver-errors.ts';
import { startLibvirtd, type PrivateLibvirtd } from '../peers/libvirtd.ts';
import { LIBVIRTD, VIRSH, requirePeers } from '../support/peers.ts';

const peers = requirePeers('test/drivers/virsh.test.ts (virsh driver against a private libvirtd)', [LIBVIRTD, VIRSH]);

let libvirt: PrivateLibvirtd;
const spawned: SpawnedChild[] = [];
const driver = createVirshDriver({ onSpawn: (c) => spawned.push(c) });
const never = (): AbortSignal => new AbortController().signal;

function target(domain: string, uri = libvirt.uri): DriverTarget<VirshParams> {
  const params = { uri, domain };
  return { nodeId: domain, bmc: driver.defaultBmc(params), params };
}

/** A unix socket that accepts connections and never answers: virsh hangs connecting to it. */
async function silentSocket(): Promise<{ path: string; close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'silent-sock-'));
  const path = join(dir, 'sock');
  const conns: Socket[] = [];
  const server: Server = createServer((s) => conns.push(s));
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    path,
    async close() {
      for (const c of conns) c.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

beforeAll(async () => {
  if (!peers) return;
  libvirt = await startLibvirtd();
});

afterAll(async () => {
  await libvirt?.stop();
});

describe('domstate mapping', () => {
  it('maps virsh states to readings', () => {
    expect(readDomstate('running\n\n')).toBe('on');
    expect(readDomstate('paused')).toBe('on');
    expect(readDomstate('in shutdown')).toBe('on');
    expect(readDomstate('pmsuspended')).toBe('on');
    expect(readDomstate('shut off')).toBe('off');
    expect(readDomstate('crashed')).toBe('off');
    expect(readDomstate('dying')).toBe('unknown');
    expect(readDomstate('')).toBe('unknown');
  });
});

describe.runIf(peers)('virsh driver against a private libvirtd', () => {
  it('describes itself', () => {
    const params = { uri: 'qemu:///system', domain: 'vm1' };
    expect(driver.name).toBe('virsh');
    expect(driver.defaultBmc(params)).toBe('virsh:qemu:///system');
    expect(driver.secretParams).toEqual([]);
    expect(driver.capabilities(params).softOff).toBe(true);
  });

  it('keeps defined domains between calls (the holder connection works)', async () => {
    await libvirt.defineDomain('keep', 'shut off');
    expect(await libvirt.domstate('keep')).toBe('shut off');
    expect(await driver.query(target('keep'), never())).toBe('off');
  });

  it('starts, destroys, shuts down and queries a domain', async () => {
    await libvirt.defineDomain('vm1', 'shut off');
    const t = target('vm1');
    expect(await driver.query(t, never())).toBe('off');

    expect(await driver.powerOn(t, never())).toEqual({});
    expect(await libvirt.domstate('vm1')).toBe('running');
    expect(await driver.query(t, never())).toBe('on');

    await driver.powerOff(t, never());
    expect(await libvirt.domstate('vm1')).toBe('shut off');

    await driver.powerOn(t, never());
    await driver.softOff(t, never());
    expect(await libvirt.domstate('vm1')).toBe('shut off');
    expect(await driver.query(t, never())).toBe('off');
  });

  it('treats repeats as success: start when running, destroy/shutdown when off', async () => {
    await libvirt.defineDomain('idem', 'running');
    const t = target('idem');
    await driver.powerOn(t, never());
    await driver.powerOn(t, never());
    expect(await libvirt.domstate('idem')).toBe('running');
    await driver.powerOff(t, never());
    await driver.powerOff(t, never());
    await driver.softOff(t, never());
    expect(await libvirt.domstate('idem')).toBe('shut off');
  });

  it('reads a paused domain as on', async () => {
    await libvirt.defineDomain('paused1', 'paused');
    expect(await libvirt.domstate('paused1')).toBe('paused');
    expect(await driver.query(target('paused1'), never())).toBe('on');
  });

  it('reports an unknown domain as config, not retryable', async () => {
    const calls = [() => driver.query(target('nope'), never()), () => driver.powerOn(target('nope'), never())];
    for (const call of calls) {
      const err = await driverFailure(call());
      expect(err.kind).toBe('config');
      expect(err.retryable).toBe(false);
      expect(err.message).toContain('nope');
    }
  });

  it('reports a missing socket as unreachable and a bad transport as config', async () => {
    const unreachable = await driverFailure(
      driver.query(target('vm1', 'test+unix:///default?socket=/nonexistent/libvirt-sock'), never()),
    );
    expect(unreachable.kind).toBe('unreachable');
    expect(unreachable.retryable).toBe(true);

    const badTransport = await driverFailure(driver.query(target('vm1', 'test+bogus:///default'), never()));
    expect(badTransport.kind).toBe('config');
  });

  it('rejects params that could be read as options, without running virsh', async () => {
    const before = spawned.length;
    const dashDomain = await driverFailure(driver.query(target('--help'), never()));
    expect(dashDomain.kind).toBe('config');
    const dashUri = await driverFailure(driver.query(target('vm1', '-c'), never()));
    expect(dashUri.kind).toBe('config');
    expect(spawned.length).toBe(before);
  });

  it('aborts a hanging virsh and leaves no process behind', async () => {
    const silent = await silentSocket();
    try {
      const ac = new AbortController();
      const before = spawned.length;
      setTimeout(() => ac.abort(new Error('deadline')), 300);
      const started = performance.now();
      const err = await driverFailure(
        driver.powerOn(target('vm1', `test+unix:///default?socket=${silent.path}`), ac.signal),
      );
      expect(err.kind).toBe('aborted');
      expect(performance.now() - started).toBeLessThan(2_000);
      const child = spawned[before];
      expect(child).toBeDefined();
      expect(isAlive(child?.pid ?? -1)).toBe(false);
    } finally {
      await silent.close();
    }
  });

  it('times out a hanging virsh at its own deadline', async () => {
    const silent = await silentSocket();
    try {
      const quick = createVirshDriver({ commandTimeoutMs: 300 });
      const err = await driverFailure(
        quick.query(target('vm1', `test+unix:///default?socket=${silent.path}`), never()),
      );
      expect(err.kind).toBe('timeout');
      expect(err.retryable).toBe(true);
    } finally {
      await silent.close();
    }
  });
});
