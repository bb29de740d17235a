import { describe, expect, it } from 'vitest';
import { SimBmcFleet } from '../../src/drivers/sim/bmc-fleet.ts';
import type { SimCommandKind } from '../../src/drivers/sim/backend.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function cmd(fleet: SimBmcFleet, nodeId: string, bmc: string, kind: SimCommandKind, params: Record<string, unknown> = {}, signal?: AbortSignal) {
  return fleet.command({ nodeId, bmc, kind, params }, signal);
}

describe('overlap detector: one node (invariant 1)', () => {
  it('finds two overlapping commands on one node, a query counting as a command', async () => {
    const fleet = new SimBmcFleet();
    await Promise.all([cmd(fleet, 'n1', 'b1', 'on', { latencyMs: 30 }), cmd(fleet, 'n1', 'b1', 'query', { latencyMs: 5 })]);
    const report = fleet.overlaps();
    expect(report.nodeOverlaps).toBe(1);
    const sample = report.samples.find((v) => v.type === 'node_overlap');
    expect(sample).toMatchObject({ type: 'node_overlap', nodeId: 'n1', running: { kind: 'on' }, started: { kind: 'query' } });
    expect(report.total).toBeGreaterThanOrEqual(1);
  });

  it('counts every intersecting pair: three at once are three pairs', async () => {
    const fleet = new SimBmcFleet({ bmcLimit: 10 });
    await Promise.all([1, 2, 3].map(() => cmd(fleet, 'n1', 'b1', 'query', { latencyMs: 10 })));
    expect(fleet.overlaps()).toMatchObject({ nodeOverlaps: 3, bmcLimitViolations: 0 });
  });

  it('finds none for back-to-back commands, even with latency, failures and aborts between them', async () => {
    const fleet = new SimBmcFleet();
    fleet.ensureNode('n1', { bmc: 'b1' });
    await cmd(fleet, 'n1', 'b1', 'on', { latencyMs: 5 });
    await cmd(fleet, 'n1', 'b1', 'query', { latencyMs: 5 });
    fleet.setFault('n1', { failNext: 1 });
    await cmd(fleet, 'n1', 'b1', 'off').catch(() => undefined);
    fleet.setFault('n1', { hang: true });
    const ac = new AbortController();
    const hung = cmd(fleet, 'n1', 'b1', 'off', {}, ac.signal).catch(() => undefined);
    ac.abort();
    await hung;
    fleet.setFault('n1', {});
    // Issued the moment the aborted one settles, as a host's DEADLINE → verify would.
    await cmd(fleet, 'n1', 'b1', 'query');
    expect(fleet.overlaps()).toEqual({ nodeOverlaps: 0, bmcLimitViolations: 0, minIntervalViolations: 0, total: 0, samples: [] });
    expect(fleet.history('n1')).toHaveLength(5);
  });

  it('different nodes on different BMCs may run at once', async () => {
    const fleet = new SimBmcFleet();
    await Promise.all(['a', 'b', 'c'].map((n) => cmd(fleet, n, `bmc-${n}`, 'on', { latencyMs: 10 })));
    expect(fleet.overlaps().total).toBe(0);
  });
});

describe('overlap detector: BMC limits (invariant 9)', () => {
  it('counts commands beyond the per-BMC limit (default 1) across nodes sharing a BMC', async () => {
    const fleet = new SimBmcFleet();
    await Promise.all(['a', 'b'].map((n) => cmd(fleet, n, 'chassis-1', 'query', { latencyMs: 10 })));
    const report = fleet.overlaps();
    expect(report.nodeOverlaps).toBe(0);
    expect(report.bmcLimitViolations).toBe(1);
    expect(report.samples[0]).toMatchObject({ type: 'bmc_limit', bmc: 'chassis-1', inFlight: 2, limit: 1 });
  });

  it('allows up to a configured limit', async () => {
    const fleet = new SimBmcFleet({ bmcLimit: 2 });
    await Promise.all(['a', 'b'].map((n) => cmd(fleet, n, 'chassis-1', 'query', { latencyMs: 10 })));
    expect(fleet.overlaps().total).toBe(0);
    await Promise.all(['a', 'b', 'c'].map((n) => cmd(fleet, n, 'chassis-1', 'query', { latencyMs: 10 })));
    expect(fleet.overlaps().bmcLimitViolations).toBe(1);
  });

  it('finds minimum-interval violations and accepts spaced commands', async () => {
    const fleet = new SimBmcFleet({ minIntervalMs: 40 });
    await cmd(fleet, 'a', 'chassis-1', 'query');
    await cmd(fleet, 'b', 'chassis-1', 'query'); // at once: too soon
    expect(fleet.overlaps()).toMatchObject({ minIntervalViolations: 1, bmcLimitViolations: 0, nodeOverlaps: 0 });
    const sample = fleet.overlaps().samples[0];
    expect(sample).toMatchObject({ type: 'min_interval', bmc: 'chassis-1', minIntervalMs: 40 });

    await sleep(45);
    await cmd(fleet, 'a', 'chassis-1', 'query');
    await cmd(fleet, 'c', 'other-bmc', 'query'); // another BMC has its own interval
    expect(fleet.overlaps().minIntervalViolations).toBe(1);
  });

  it('measures the interval from the previous start when asked to', async () => {
    const fleet = new SimBmcFleet({ minIntervalMs: 30, minIntervalFrom: 'start' });
    await cmd(fleet, 'a', 'b1', 'query', { latencyMs: 40 });
    await cmd(fleet, 'a', 'b1', 'query'); // 40 ms after the previous start, 0 after its end
    expect(fleet.overlaps().minIntervalViolations).toBe(0);

    const fromEnd = new SimBmcFleet({ minIntervalMs: 30 });
    await cmd(fromEnd, 'a', 'b1', 'query', { latencyMs: 40 });
    await cmd(fromEnd, 'a', 'b1', 'query');
    expect(fromEnd.overlaps().minIntervalViolations).toBe(1);
  });

  it('keeps exact counts but only the latest samples', async () => {
    const fleet = new SimBmcFleet({ keepSamples: 2, bmcLimit: 100 });
    await Promise.all([1, 2, 3, 4, 5].map(() => cmd(fleet, 'n1', 'b1', 'query', { latencyMs: 5 })));
    const report = fleet.overlaps();
    expect(report.nodeOverlaps).toBe(10);
    expect(report.samples).toHaveLength(2);
  });

  it('rejects nonsense limits', () => {
    expect(() => new SimBmcFleet({ bmcLimit: 0 })).toThrow(/bmcLimit/);
    expect(() => new SimBmcFleet({ minIntervalMs: -1 })).toThrow(/minIntervalMs/);
  });
});
