/**
 * The ipmi driver with its default timing against BMCs that answer every request 3–5 s late
 * (ipmi_sim behind test/peers/slow-udp-proxy.ts), as iDRAC/iLO-class BMCs under load do:
 * every command succeeds, the BMC executes each power command exactly once, and a command
 * whose client gave up is still carried out by the BMC (why a command ends only at its latest
 * end, invariant 10).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIpmiDriver, IPMI_TIMING, IPMITOOL_PACKETS_PER_RUN, type IpmiParams } from '../../src/drivers/ipmi.ts';
import type { DriverTarget } from '../../src/drivers/types.ts';
import { driverFailure } from '../support/driver-errors.ts';
import { ipmiPeersOrSkip, startIpmiSim, type ChassisLogEntry, type IpmiSimFleet } from '../peers/ipmi-sim.ts';
import { startSlowUdpProxy, type ProxyPacket, type SlowUdpProxy } from '../peers/slow-udp-proxy.ts';

const peers = ipmiPeersOrSkip('ipmi driver against a slow BMC');
const driver = createIpmiDriver();
const never = (): AbortSignal => new AbortController().signal;

let sim: IpmiSimFleet;
const proxies: SlowUdpProxy[] = [];

beforeAll(async () => {
  if (!peers) return;
  sim = await startIpmiSim(3);
});

afterAll(async () => {
  await Promise.all(proxies.map((p) => p.stop()));
  await sim?.stop();
});

async function proxyFor(i: number, options: Omit<Parameters<typeof startSlowUdpProxy>[0], 'targetPort'> = {}): Promise<SlowUdpProxy> {
  const b = sim.bmcs[i];
  if (b === undefined) throw new Error(`no bmc ${i}`);
  const proxy = await startSlowUdpProxy({ targetPort: b.port, ...options });
  proxies.push(proxy);
  return proxy;
}

function targetVia(i: number, proxy: SlowUdpProxy, overrides: Partial<IpmiParams> = {}): DriverTarget<IpmiParams> {
  const b = sim.bmcs[i];
  if (b === undefined) throw new Error(`no bmc ${i}`);
  const params: IpmiParams = { host: proxy.host, port: proxy.port, user: b.user, password: b.password, ...overrides };
  return { nodeId: `slow-${i}`, bmc: driver.defaultBmc(params), params };
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

/** Chassis commands of one BMC that overlap in time (ipmi_sim serialises them; none expected). */
function overlaps(log: readonly ChassisLogEntry[]): string[] {
  const sorted = [...log].sort((a, b) => a.startMs - b.startMs);
  const found: string[] = [];
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    const cur = sorted[i];
    if (prev !== undefined && cur !== undefined && cur.startMs < prev.endMs) found.push(`${prev.op} ${prev.args.join(' ')} / ${cur.op} ${cur.args.join(' ')}`);
  }
  return found;
}

/** Requests per ipmitool run (one client port per run). */
function requestsPerRun(packets: readonly ProxyPacket[]): { all: number; inSession: number }[] {
  const runs = new Map<string, { all: number; inSession: number }>();
  for (const p of packets) {
    if (p.direction !== 'request') continue;
    const run = runs.get(p.client) ?? { all: 0, inSession: 0 };
    run.all++;
    if (p.inSession) run.inSession++;
    runs.set(p.client, run);
  }
  return [...runs.values()];
}

const summarise = (log: readonly ChassisLogEntry[]): string[] => log.map((e) => `${e.op} ${e.args.join(' ')}`);

describe.skipIf(!peers)('ipmi driver against a BMC answering each request 3–5 s late', () => {
  it('powers on, powers off and queries with default timing; each power command runs once, none overlap', { timeout: 120_000 }, async () => {
    await sim.setPower(1, 'on');
    // 0 and 1 hold the requests inside the session (the 7 that carry commands), 2 every request,
    // session set-up included. Three BMCs side by side keep the test near one minute.
    const [p0, p1, p2] = await Promise.all([proxyFor(0, { onlyInSession: true }), proxyFor(1, { onlyInSession: true }), proxyFor(2)]);
    if (p0 === undefined || p1 === undefined || p2 === undefined) throw new Error('proxies did not start');

    const [a, b, c] = await Promise.all([
      (async () => [await timed(() => driver.powerOn(targetVia(0, p0), never())), await timed(() => driver.query(targetVia(0, p0), never()))] as const)(),
      (async () => [await timed(() => driver.powerOff(targetVia(1, p1), never())), await timed(() => driver.query(targetVia(1, p1), never()))] as const)(),
      timed(() => driver.query(targetVia(2, p2), never())),
    ]);
    expect(a[0].value).toEqual({});
    expect(a[1].value).toBe('on');
    expect(b[0].value).toEqual({});
    expect(b[1].value).toBe('off');
    expect(c.value).toBe('off');
    const durations = [a[0].ms, a[1].ms, b[0].ms, b[1].ms, c.ms];
    console.log(
      `slow BMC (in-session requests held 3-5 s): powerOn ${(a[0].ms / 1000).toFixed(1)} s, query ${(a[1].ms / 1000).toFixed(1)} s; ` +
        `powerOff ${(b[0].ms / 1000).toFixed(1)} s, query ${(b[1].ms / 1000).toFixed(1)} s; ` +
        `every request held 3-5 s: query ${(c.ms / 1000).toFixed(1)} s`,
    );
    for (const ms of durations) expect(ms).toBeLessThan(IPMI_TIMING.commandBudgetMs * 0.75);

    await Promise.all([p0.drained(), p1.drained(), p2.drained()]);
    const logs = await Promise.all([0, 1, 2].map((i) => sim.readLog(i)));
    console.log(`chassis logs: ${logs.map((l, i) => `bmc${i}: ${summarise(l).join(', ')}`).join('; ')}`);
    expect(summarise(logs[0] ?? [])).toEqual(['set power 1', 'get power']);
    expect(summarise(logs[1] ?? [])).toEqual(['set power 0', 'get power']);
    expect(summarise(logs[2] ?? [])).toEqual(['get power']);
    for (const log of logs) expect(overlaps(log)).toEqual([]);
    expect(await Promise.all([0, 1, 2].map((i) => sim.readPower(i)))).toEqual(['on', 'off', 'off']);

    // No request was sent twice: every run sent what it sends to a fast BMC.
    for (const proxy of [p0, p1, p2]) {
      for (const run of requestsPerRun(proxy.packets())) expect(run).toEqual({ all: IPMITOOL_PACKETS_PER_RUN, inSession: 7 });
      const held = proxy.packets().filter((p) => p.direction === 'request' && p.delayMs > 0);
      expect(held.length).toBeGreaterThan(0);
      for (const p of held) {
        expect(p.delayMs).toBeGreaterThanOrEqual(3_000);
        expect(p.delayMs).toBeLessThanOrEqual(5_000);
      }
    }
  });

  it('carries out a power command whose client has already given up', { timeout: 30_000 }, async () => {
    // Hold the chassis command (the 6th request in the session) and what follows it 4 s; the
    // node allows 1 s per request, so ipmitool gives up while the BMC has yet to receive it.
    const proxy = await proxyFor(2, { minDelayMs: 4_000, maxDelayMs: 4_000, shouldHold: (p) => p.inSession && p.inSessionIndex >= 5 });
    await sim.setPower(2, 'off');
    const before = (await sim.readLog(2)).length;
    const err = await driverFailure(driver.powerOn(targetVia(2, proxy, { timing: { requestTimeoutMs: 1_000 } }), never()));
    const gaveUpAt = Date.now();
    expect(err.kind).toBe('timeout');
    expect(err.mayStillRun).toBe(true);
    expect(err.message).toMatch(/Unable to set Chassis Power Control/);
    expect(await sim.readPower(2)).toBe('off');

    await proxy.drained();
    const deadline = Date.now() + 3_000;
    while ((await sim.readPower(2)) !== 'on' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const executed = (await sim.readLog(2)).slice(before);
    expect(summarise(executed)).toEqual(['set power 1']);
    expect(executed[0]?.startMs).toBeGreaterThan(gaveUpAt);
    expect(await sim.readPower(2)).toBe('on');
  });
});
