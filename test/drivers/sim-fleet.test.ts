import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { SimBmcFleet, UnknownSimNodeError } from '../../src/drivers/sim/bmc-fleet.ts';
import type { SimCommandKind } from '../../src/drivers/sim/backend.ts';
import { DriverError } from '../../src/drivers/types.ts';
import { ManualTime } from '../support/manual-time.ts';

function cmd(fleet: SimBmcFleet, nodeId: string, kind: SimCommandKind, params: Record<string, unknown> = {}, signal?: AbortSignal) {
  return fleet.command({ nodeId, bmc: `sim:${nodeId}`, kind, params }, signal);
}

async function rejection(p: Promise<unknown>): Promise<DriverError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DriverError);
  return err as DriverError;
}

describe('SimBmcFleet power', () => {
  it('on, off and soft off change the power and a query reads it', async () => {
    const fleet = new SimBmcFleet();
    expect(await cmd(fleet, 'n1', 'query')).toEqual({ power: 'off' });
    expect(await cmd(fleet, 'n1', 'on')).toEqual({ power: 'on' });
    expect(fleet.power('n1')).toBe('on');
    await cmd(fleet, 'n1', 'off');
    expect(fleet.power('n1')).toBe('off');
    await cmd(fleet, 'n1', 'on');
    await cmd(fleet, 'n1', 'soft');
    expect(await cmd(fleet, 'n1', 'query')).toEqual({ power: 'off' });
    expect(fleet.stats().commands).toEqual({ on: 2, off: 1, soft: 1, query: 2 });
  });

  it('initialPower sets the power of a node the BMC first hears of', async () => {
    const fleet = new SimBmcFleet();
    expect(await cmd(fleet, 'n1', 'query', { initialPower: 'on' })).toEqual({ power: 'on' });
    fleet.ensureNode('n2', { params: { initialPower: 'on' } });
    expect(fleet.power('n2')).toBe('on');
    expect(fleet.power('nobody')).toBeUndefined();
  });

  it('with settleMs the ack comes first and the power changes later', async () => {
    let clock = 1000;
    const fleet = new SimBmcFleet({ now: () => clock });
    const params = { settleMs: 500 };
    expect(await cmd(fleet, 'n1', 'on', params)).toEqual({ power: 'off' });
    expect(fleet.power('n1')).toBe('off');
    clock += 499;
    expect((await cmd(fleet, 'n1', 'query', params)).power).toBe('off');
    clock += 1;
    expect((await cmd(fleet, 'n1', 'query', params)).power).toBe('on');
  });

  it('soft off takes softOffMs, and never happens when softOffMs is null', async () => {
    let clock = 0;
    const fleet = new SimBmcFleet({ now: () => clock });
    await cmd(fleet, 'a', 'on');
    await cmd(fleet, 'a', 'soft', { softOffMs: 30_000 });
    clock += 29_999;
    expect(fleet.power('a')).toBe('on');
    clock += 1;
    expect(fleet.power('a')).toBe('off');

    await cmd(fleet, 'b', 'on');
    await cmd(fleet, 'b', 'soft', { softOffMs: null });
    clock += 10_000_000;
    expect(fleet.power('b')).toBe('on');
  });

  it('pressButton drifts the power out of band and drops a pending change', async () => {
    let clock = 0;
    const fleet = new SimBmcFleet({ now: () => clock });
    await cmd(fleet, 'n1', 'on', { settleMs: 100 });
    fleet.pressButton('n1', 'off');
    clock += 1000;
    expect(fleet.power('n1')).toBe('off');
    fleet.pressButton('n1', 'on');
    expect((await cmd(fleet, 'n1', 'query')).power).toBe('on');
    expect(() => fleet.pressButton('ghost', 'on')).toThrow(UnknownSimNodeError);
    expect(() => fleet.pressButton('n1', 'sideways' as 'on')).toThrow(/power must be/);
  });

  it('latencyMs delays the answer', async () => {
    const fleet = new SimBmcFleet();
    const t0 = performance.now();
    await cmd(fleet, 'n1', 'on', { latencyMs: 40 });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(35);
    const [rec] = fleet.history('n1');
    expect(rec?.end).toBeDefined();
    expect((rec?.end ?? 0) - (rec?.start ?? 0)).toBeGreaterThanOrEqual(35);
  });
});

describe('SimBmcFleet faults', () => {
  async function outcomes(seed: number): Promise<string[]> {
    const fleet = new SimBmcFleet();
    const out: string[] = [];
    for (let i = 0; i < 200; i++) {
      out.push(await cmd(fleet, 'n1', 'query', { failRate: 0.3, seed }).then(() => 'ok', (e: DriverError) => e.kind));
    }
    return out;
  }

  it('failRate with a seed is deterministic, and the rate is roughly right', async () => {
    const a = await outcomes(42);
    const b = await outcomes(42);
    const c = await outcomes(43);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    const failures = a.filter((x) => x !== 'ok');
    expect(new Set(failures)).toEqual(new Set(['busy']));
    expect(failures.length).toBeGreaterThan(30);
    expect(failures.length).toBeLessThan(90);
  });

  it('a failed command changes no power and is retryable', async () => {
    const fleet = new SimBmcFleet();
    fleet.ensureNode('n1');
    fleet.setFault('n1', { failNext: 2 });
    const e1 = await rejection(cmd(fleet, 'n1', 'on'));
    expect(e1.kind).toBe('busy');
    expect(e1.retryable).toBe(true);
    await rejection(cmd(fleet, 'n1', 'on'));
    expect(fleet.power('n1')).toBe('off');
    await cmd(fleet, 'n1', 'on');
    expect(fleet.power('n1')).toBe('on');
    expect(fleet.history('n1').map((r) => r.outcome)).toEqual(['busy', 'busy', 'ok']);
  });

  it('failKind and unreachable faults give those error kinds until cleared', async () => {
    const fleet = new SimBmcFleet();
    fleet.ensureNode('n1');
    fleet.setFault('n1', { failNext: 1, failKind: 'timeout' });
    expect((await rejection(cmd(fleet, 'n1', 'query'))).kind).toBe('timeout');
    fleet.setFault('n1', { unreachable: true });
    expect((await rejection(cmd(fleet, 'n1', 'query'))).kind).toBe('unreachable');
    expect((await rejection(cmd(fleet, 'n1', 'query'))).kind).toBe('unreachable');
    fleet.setFault('n1', {});
    expect(await cmd(fleet, 'n1', 'query')).toEqual({ power: 'off' });
    expect(() => fleet.setFault('n1', { failNext: -1 })).toThrow(/failNext/);
    expect(() => fleet.setFault('n1', { failKind: 'nope' as 'busy', failNext: 1 })).toThrow(/failKind/);
  });

  it('a hung command answers only when aborted, with DriverError aborted, and does nothing', async () => {
    const fleet = new SimBmcFleet();
    fleet.ensureNode('n1');
    fleet.setFault('n1', { hang: true });
    const ac = new AbortController();
    const p = cmd(fleet, 'n1', 'on', {}, ac.signal);
    let settled = false;
    void p.catch(() => undefined).finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(settled).toBe(false);
    expect(fleet.stats().inFlight).toBe(1);
    ac.abort(new Error('deadline'));
    const err = await rejection(p);
    expect(err.kind).toBe('aborted');
    expect(err.message).toMatch(/deadline/);
    expect(fleet.power('n1')).toBe('off');
    expect(fleet.stats().inFlight).toBe(0);
    expect(fleet.history('n1')[0]?.outcome).toBe('aborted');
  });

  it('hangRate 1 hangs every command; abort during latency stops the command', async () => {
    const fleet = new SimBmcFleet();
    const ac = new AbortController();
    const p = cmd(fleet, 'n1', 'query', { hangRate: 1, seed: 1 }, ac.signal);
    setTimeout(() => ac.abort(), 20);
    expect((await rejection(p)).kind).toBe('aborted');

    const ac2 = new AbortController();
    const slow = cmd(fleet, 'n2', 'on', { latencyMs: 10_000 }, ac2.signal);
    ac2.abort();
    expect((await rejection(slow)).kind).toBe('aborted');
    expect(fleet.power('n2')).toBe('off');
    const [rec] = fleet.history('n2');
    expect(rec?.outcome).toBe('aborted');
    expect(rec?.end).toBeDefined();
  });

  it('an already aborted signal sends nothing; bad input is a config error', async () => {
    const fleet = new SimBmcFleet();
    expect((await rejection(cmd(fleet, 'n1', 'on', {}, AbortSignal.abort()))).kind).toBe('aborted');
    expect(fleet.history('n1')).toEqual([]);
    expect((await rejection(cmd(fleet, 'n1', 'on', { failRate: 2 }))).kind).toBe('config');
    expect((await rejection(cmd(fleet, 'n1', 'on', { latencyMs: 'slow' }))).kind).toBe('config');
    expect((await rejection(fleet.command({ nodeId: '', bmc: 'b', kind: 'on', params: {} }))).kind).toBe('config');
    expect((await rejection(fleet.command({ nodeId: 'x', bmc: 'b', kind: 'reboot' as 'on', params: {} }))).kind).toBe('config');
  });

  it('keeps a bounded history per node', async () => {
    const fleet = new SimBmcFleet({ historyPerNode: 3 });
    for (let i = 0; i < 10; i++) await cmd(fleet, 'n1', 'query');
    const h = fleet.history('n1');
    expect(h.map((r) => r.id)).toEqual([8, 9, 10]);
    expect(fleet.stats().commands.query).toBe(10);
  });
});

describe('SimBmcFleet memory', () => {
  it('100,000 nodes with a command each stay small', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    const before = process.memoryUsage().heapUsed;
    const fleet = new SimBmcFleet();
    const N = 100_000;
    for (let i = 0; i < N; i++) {
      await fleet.command({ nodeId: `node-${i}`, bmc: `bmc-${i % 1000}`, kind: i % 2 ? 'on' : 'query', params: { seed: i } });
    }
    gc();
    const perNode = (process.memoryUsage().heapUsed - before) / N;
    console.log(`sim fleet: ${N} nodes, ${Math.round(perNode)} bytes per node (heap, incl. one command record each)`);
    expect(fleet.size).toBe(N);
    expect(fleet.overlaps().total).toBe(0);
    expect(perNode).toBeLessThan(2048);
  });
});

describe('SimBmcFleet on an injected scheduler', () => {
  it('answers after latencyMs of the given scheduler’s time, and an abort clears its timer', async () => {
    const time = new ManualTime(0);
    const fleet = new SimBmcFleet({ now: time.monotonic, scheduler: time });
    let answered: unknown;
    const reply = cmd(fleet, 'n1', 'on', { latencyMs: 1_000 }).then((r) => (answered = r));
    expect(time.pending).toBe(1);
    await time.advance(999);
    expect(answered).toBeUndefined();
    expect(fleet.stats().inFlight).toBe(1);
    await time.advance(1);
    await reply;
    expect(answered).toEqual({ power: 'on' });
    expect(fleet.history('n1')[0]).toMatchObject({ start: 0, end: 1_000, outcome: 'ok' });

    const controller = new AbortController();
    const aborted = rejection(cmd(fleet, 'n1', 'off', { latencyMs: 1_000 }, controller.signal));
    expect(time.pending).toBe(1);
    controller.abort();
    expect((await aborted).kind).toBe('aborted');
    expect(time.pending).toBe(0);
    expect(fleet.power('n1')).toBe('on');
  });
});
