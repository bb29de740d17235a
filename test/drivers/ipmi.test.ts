/**
 * The ipmi driver against real ipmi_sim BMCs and the real ipmitool.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIpmiDriver, type IpmiParams } from '../../src/drivers/ipmi.ts';
import type { DriverTarget } from '../../src/drivers/types.ts';
import type { SpawnedChild } from '../../src/drivers/child-process.ts';
import { driverFailure, isAlive } from '../support/driver-errors.ts';
import { freeUdpPort, startIpmiSim, type IpmiSimFleet } from '../peers/ipmi-sim.ts';

const run = promisify(execFile);

let sim: IpmiSimFleet;
const spawned: SpawnedChild[] = [];
const driver = createIpmiDriver({ onSpawn: (c) => spawned.push(c) });

function targetFor(i: number, overrides: Partial<IpmiParams> = {}): DriverTarget<IpmiParams> {
  const b = sim.bmcs[i];
  if (b === undefined) throw new Error(`no bmc ${i}`);
  const params: IpmiParams = { host: b.host, port: b.port, user: b.user, password: b.password, ...overrides };
  return { nodeId: `node-${i}`, bmc: driver.defaultBmc(params), params };
}

const never = (): AbortSignal => new AbortController().signal;

beforeAll(async () => {
  sim = await startIpmiSim(3);
});

afterAll(async () => {
  await sim?.stop();
});

describe('ipmi driver against ipmi_sim', () => {
  it('describes itself', () => {
    const params: IpmiParams = { host: '10.0.0.5', user: 'u', password: 'p' };
    expect(driver.name).toBe('ipmi');
    expect(driver.secretParams).toEqual(['password']);
    expect(driver.defaultBmc(params)).toBe('ipmi:10.0.0.5:623');
    expect(driver.defaultBmc({ ...params, port: 6230 })).toBe('ipmi:10.0.0.5:6230');
    const caps = driver.capabilities(params);
    expect(caps.softOff).toBe(true);
    expect(caps.queryable).toBe(true);
    expect(caps.timing.attempts).toBeGreaterThan(0);
  });

  it('powers on, queries, powers off, soft-offs and cycles', async () => {
    const t = targetFor(0);
    expect(await driver.query(t, never())).toBe('off');

    expect(await driver.powerOn(t, never())).toEqual({});
    expect(await sim.readPower(0)).toBe('on');
    expect(await driver.query(t, never())).toBe('on');

    await driver.powerOff(t, never());
    expect(await sim.readPower(0)).toBe('off');
    expect(await driver.query(t, never())).toBe('off');

    await driver.powerOn(t, never());
    await driver.softOff(t, never());
    expect(await sim.readPower(0)).toBe('off');

    // cycle = off then on, as the chart composes it
    await driver.powerOff(t, never());
    await driver.powerOn(t, never());
    expect(await driver.query(t, never())).toBe('on');

    const sets = (await sim.readLog(0)).filter((e) => e.op === 'set').map((e) => e.args.join(' '));
    expect(sets).toEqual(['power 1', 'power 0', 'power 1', 'shutdown 1', 'power 0', 'power 1']);
    // Sequential driver calls: every logged command ends before the next starts.
    const log = await sim.readLog(0);
    for (const [i, entry] of log.entries()) {
      expect(entry.endMs).toBeGreaterThanOrEqual(entry.startMs);
      const next = log[i + 1];
      if (next !== undefined) expect(next.startMs).toBeGreaterThanOrEqual(entry.endMs);
    }
  });

  it('drives several BMCs at once', async () => {
    await Promise.all([0, 1, 2].map((i) => sim.setPower(i, 'off')));
    await Promise.all([0, 1, 2].map((i) => driver.powerOn(targetFor(i), never())));
    expect(await Promise.all([0, 1, 2].map((i) => driver.query(targetFor(i), never())))).toEqual(['on', 'on', 'on']);
    expect(await Promise.all([0, 1, 2].map((i) => sim.readPower(i)))).toEqual(['on', 'on', 'on']);
    await Promise.all([0, 1, 2].map((i) => sim.setPower(i, 'off')));
  });

  it('reports a missing ipmitool binary as config', async () => {
    const broken = createIpmiDriver({ ipmitoolPath: '/nonexistent/ipmitool' });
    const err = await driverFailure(broken.query(targetFor(0), never()));
    expect(err.kind).toBe('config');
    expect(err.message).toContain('/nonexistent/ipmitool');
  });

  it('sees an out-of-band power change', async () => {
    const t = targetFor(1);
    await sim.setPower(1, 'on');
    expect(await driver.query(t, never())).toBe('on');
    await sim.setPower(1, 'off');
    expect(await driver.query(t, never())).toBe('off');
  });

  it('rejects a wrong password as auth, not retryable, quickly', async () => {
    const started = performance.now();
    const err = await driverFailure(driver.query(targetFor(1, { password: 'wrong-password' }), never()));
    expect(err.kind).toBe('auth');
    expect(err.retryable).toBe(false);
    expect(err.message).not.toContain('wrong-password');
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('rejects an unknown user as auth', async () => {
    const err = await driverFailure(driver.powerOn(targetFor(1, { user: 'nobody' }), never()));
    expect(err.kind).toBe('auth');
    expect(await sim.readPower(1)).toBe('off');
  });

  it('fails a dead BMC within a few seconds, retryably', async () => {
    const deadPort = await freeUdpPort();
    const started = performance.now();
    const err = await driverFailure(driver.query(targetFor(1, { port: deadPort }), never()));
    const elapsed = performance.now() - started;
    expect(['timeout', 'unreachable']).toContain(err.kind);
    expect(err.retryable).toBe(true);
    expect(elapsed).toBeLessThan(10_000);
  });

  it('reports an injected BMC failure as a retryable error, then works again', async () => {
    const t = targetFor(2);
    await sim.failNext(2);
    const err = await driverFailure(driver.powerOn(t, never()));
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/Unspecified error/);
    expect(await sim.readPower(2)).toBe('off');
    await driver.powerOn(t, never());
    expect(await sim.readPower(2)).toBe('on');
    const log = await sim.readLog(2);
    expect(log.slice(-2).map((e) => [e.op, e.args.join(' '), e.ok])).toEqual([['set', 'power 1', false], ['set', 'power 1', true]]);
  });

  it('rejects invalid params as config without running ipmitool', async () => {
    const before = spawned.length;
    const bad = { ...targetFor(0).params, host: '-oProxyCommand=x' };
    const err = await driverFailure(driver.query({ nodeId: 'n', bmc: 'b', params: bad }, never()));
    expect(err.kind).toBe('config');
    expect(spawned.length).toBe(before);
  });

  it('aborts a running ipmitool and leaves no process behind', async () => {
    const deadPort = await freeUdpPort();
    const ac = new AbortController();
    const before = spawned.length;
    setTimeout(() => ac.abort(new Error('operator cancelled')), 200);
    const started = performance.now();
    const err = await driverFailure(driver.powerOn(targetFor(1, { port: deadPort }), ac.signal));
    expect(err.kind).toBe('aborted');
    expect(err.message).toContain('operator cancelled');
    expect(performance.now() - started).toBeLessThan(1_500);
    const child = spawned[before];
    expect(child).toBeDefined();
    expect(isAlive(child?.pid ?? -1)).toBe(false);
  });

  it('does not start ipmitool when already aborted', async () => {
    const before = spawned.length;
    const ac = new AbortController();
    ac.abort();
    const err = await driverFailure(driver.query(targetFor(0), ac.signal));
    expect(err.kind).toBe('aborted');
    expect(spawned.length).toBe(before);
  });

  it('keeps the password out of argv and passes it only in the child environment', async () => {
    const seen: { cmdline: string; environ: string }[] = [];
    const spy = createIpmiDriver({
      onSpawn: ({ pid }) => {
        // Synchronous: the child has exec'd ipmitool but cannot have exited before we return.
        seen.push({
          cmdline: readFileSync(`/proc/${pid}/cmdline`, 'utf8'),
          environ: readFileSync(`/proc/${pid}/environ`, 'utf8'),
        });
      },
    });
    const t = targetFor(0);
    await spy.query(t, never());
    expect(seen).toHaveLength(1);
    const [proc] = seen;
    expect(proc?.cmdline.split('\0')).toContain('ipmitool');
    expect(proc?.cmdline).not.toContain(t.params.password);
    expect(proc?.environ.split('\0')).toContain(`IPMI_PASSWORD=${t.params.password}`);
    // Nothing of this process's own environment leaks into the child.
    expect(proc?.environ.split('\0').filter((kv) => kv !== '').map((kv) => kv.split('=')[0]).sort()).toEqual(['IPMI_PASSWORD', 'LC_ALL']);
  });

  it('measures a status round-trip through the driver vs raw ipmitool', async () => {
    const t = targetFor(0);
    const rounds = 15;
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
    const viaDriver: number[] = [];
    const raw: number[] = [];
    const rawArgs = ['-I', 'lanplus', '-C', '3', '-H', t.params.host, '-p', String(t.params.port), '-U', t.params.user, '-E', 'chassis', 'power', 'status'];
    for (let i = 0; i < rounds; i++) {
      let s = performance.now();
      expect(['on', 'off']).toContain(await driver.query(t, never()));
      viaDriver.push(performance.now() - s);
      s = performance.now();
      const { stdout } = await run('ipmitool', rawArgs, { env: { IPMI_PASSWORD: t.params.password } });
      expect(stdout).toMatch(/Chassis Power is (on|off)/);
      raw.push(performance.now() - s);
    }
    console.log(
      `ipmi chassis power status, median of ${rounds}: driver ${median(viaDriver).toFixed(1)} ms, raw ipmitool ${median(raw).toFixed(1)} ms`,
    );
  });
});
