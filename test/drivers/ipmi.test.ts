/**
 * The ipmi driver against real ipmi_sim BMCs and the real ipmitool.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import {
  createIpmiDriver,
  IPMI_CIPHER_SUITES,
  IPMI_TIMING,
  IpmiParamsSchema,
  ipmitoolArgs,
  ipmitoolTiming,
  type IpmiParams,
} from '../../src/drivers/ipmi.ts';
import type { DriverTarget } from '../../src/drivers/types.ts';
import type { SpawnedChild } from '../../src/drivers/child-process.ts';
import { driverFailure, isAlive } from '../support/driver-errors.ts';
import { freeUdpPort, ipmiPeersOrSkip, startIpmiSim, type IpmiSimFleet } from '../peers/ipmi-sim.ts';

const run = promisify(execFile);
const peers = ipmiPeersOrSkip('ipmi driver against ipmi_sim');

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
  if (!peers) return;
  sim = await startIpmiSim(3);
});

afterAll(async () => {
  await sim?.stop();
});

/** The value of an option in an argv, e.g. optionOf(args, '-N'). */
const optionOf = (args: readonly string[], flag: string): string | undefined => args[args.indexOf(flag) + 1];

describe('ipmitool arguments from the node timing', () => {
  const base: IpmiParams = { host: '10.0.0.5', user: 'u', password: 'p' };

  it('by default waits 6 s per request, never resends a power command, and gives a run the command budget', () => {
    for (const verb of ['on', 'off', 'soft'] as const) {
      const args = ipmitoolArgs(base, verb);
      expect(optionOf(args, '-N')).toBe('6');
      expect(optionOf(args, '-R')).toBe('1');
      expect(args.slice(-3)).toEqual(['chassis', 'power', verb]);
    }
    // A status query may resend one lost request: 10 requests × 6 s + 6 s + 7 s fits 90 s.
    expect(optionOf(ipmitoolArgs(base, 'status'), '-R')).toBe('2');
    expect(ipmitoolTiming(IPMI_TIMING, 'on')).toEqual({ packetTimeoutSec: 6, tries: 1, commandTimeoutMs: 90_000 });
    expect(ipmitoolArgs(base, 'status')).not.toContain('p');
  });

  it('follows a per-node override in params.timing', () => {
    const params: IpmiParams = { ...base, cipher: 17, timing: { requestTimeoutMs: 2_500, commandBudgetMs: 20_000 } };
    const on = ipmitoolArgs(params, 'on');
    expect(optionOf(on, '-N')).toBe('3'); // ceil(2.5 s)
    expect(optionOf(on, '-R')).toBe('1');
    expect(optionOf(on, '-C')).toBe('17');
    // 10 × 3 s + 3 s + 4 s = 37 s does not fit 20 s: no resend for status either.
    expect(optionOf(ipmitoolArgs(params, 'status'), '-R')).toBe('1');
    expect(ipmitoolTiming(driver.capabilities(params).timing, 'status')).toEqual({ packetTimeoutSec: 3, tries: 1, commandTimeoutMs: 20_000 });
    expect(driver.capabilities(params).timing).toMatchObject({ requestTimeoutMs: 2_500, commandBudgetMs: 20_000, settleMs: IPMI_TIMING.settleMs });
    const wide = ipmitoolArgs({ ...base, timing: { requestTimeoutMs: 1_000, commandBudgetMs: 60_000 } }, 'status');
    expect([optionOf(wide, '-N'), optionOf(wide, '-R')]).toEqual(['1', '2']);
  });

  it('accepts only the cipher suites ipmitool lanplus implements', async () => {
    expect([...IPMI_CIPHER_SUITES]).toEqual([0, 1, 2, 3, 6, 7, 8, 15, 16, 17]);
    for (const cipher of IPMI_CIPHER_SUITES) expect(Value.Check(IpmiParamsSchema, { ...base, cipher })).toBe(true);
    for (const cipher of [4, 5, 9, 10, 11, 12, 13, 14, 18, -1]) {
      expect(Value.Check(IpmiParamsSchema, { ...base, cipher })).toBe(false);
      const err = await driverFailure(driver.query({ nodeId: 'n', bmc: 'b', params: { ...base, cipher } as unknown as IpmiParams }, never()));
      expect(err.kind).toBe('config');
      expect(err.message).toContain(`invalid ipmi params at /cipher: ${cipher} is not a cipher suite ipmitool supports (use 0-3, 6-8 or 15-17`);
    }
  });
});

describe.skipIf(!peers)('ipmi driver against ipmi_sim', () => {
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

  it('rejects a wrong password and an unknown user fast, as auth, with the same message', async () => {
    const setsBefore = (await sim.readLog(1)).filter((e) => e.op === 'set').length;
    const refused = "the BMC refused the user name or password (IPMI RAKP authentication failed); check both in the node's params";
    for (const overrides of [{ password: 'wrong-password' }, { user: 'nobody' }]) {
      const started = performance.now();
      const err = await driverFailure(driver.powerOn(targetFor(1, overrides), never()));
      // Fast even with the default 6 s request timeout: the BMC answers, nothing is resent.
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(err.kind).toBe('auth');
      expect(err.retryable).toBe(false);
      expect(err.mayStillRun).toBe(false);
      expect(err.message).toBe(`ipmitool chassis power on on ${targetFor(1).bmc}: ${refused}`);
      expect(err.message).not.toContain('wrong-password');
    }
    expect(await sim.readPower(1)).toBe('off');
    expect((await sim.readLog(1)).filter((e) => e.op === 'set')).toHaveLength(setsBefore);
  });

  it('reports a cipher suite the BMC refuses as config, naming the suite and what to do', async () => {
    // ipmi_sim has no SHA-256 suites: it answers Open Session with "invalid authentication algorithm".
    const started = performance.now();
    const err = await driverFailure(driver.powerOn(targetFor(1, { cipher: 17 }), never()));
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(err.kind).toBe('config');
    expect(err.retryable).toBe(false);
    expect(err.mayStillRun).toBe(false);
    expect(err.message).toContain('the BMC refused cipher suite 17 ("Error in open session response message : invalid authentication algorithm")');
    expect(err.message).toContain('set params.cipher to a suite the BMC offers');
    expect(await sim.readPower(1)).toBe('off');
  });

  it('fails a dead BMC retryably, in two request timeouts, knowing no command reached it', async () => {
    const deadPort = await freeUdpPort();
    const started = performance.now();
    // Get Channel Auth Capabilities goes unanswered twice (ipmitool asks again in IPMI 1.5 form).
    const err = await driverFailure(driver.powerOn(targetFor(1, { port: deadPort, timing: { requestTimeoutMs: 1_000 } }), never()));
    const elapsed = performance.now() - started;
    expect(err.kind).toBe('timeout');
    expect(err.retryable).toBe(true);
    expect(err.mayStillRun).toBe(false);
    expect(elapsed).toBeGreaterThan(1_900);
    expect(elapsed).toBeLessThan(5_000);
  });

  it('kills ipmitool at the node command budget', async () => {
    const deadPort = await freeUdpPort();
    const started = performance.now();
    const err = await driverFailure(
      driver.powerOn(targetFor(1, { port: deadPort, timing: { requestTimeoutMs: 1_000, commandBudgetMs: 1_200 } }), never()),
    );
    expect(err.kind).toBe('timeout');
    expect(err.mayStillRun).toBe(true);
    expect(err.message).toContain('within 1200 ms');
    expect(performance.now() - started).toBeLessThan(2_500);
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
