/**
 * Item 9 of issue 12 through GET /metrics: `switchboard_driver_command_duration_seconds` measures
 * a command from its send, and the wait for the BMC slot / global cap before it is its own
 * histogram, `switchboard_driver_slot_wait_seconds`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startHttpStack, type HttpStack } from '../support/http.ts';

let t: HttpStack;
beforeAll(async () => {
  t = await startHttpStack();
});
afterAll(async () => {
  await t?.close();
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of the Prometheus text format (no escapes in our label values). */
function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const pair of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"/g)) labels[pair[1]!] = pair[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** Sum of a metric's samples whose labels include `match`. */
function total(samples: Sample[], name: string, match: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

async function scrape(): Promise<{ text: string; samples: Sample[] }> {
  const res = await t.app.inject({ method: 'GET', url: '/metrics', headers: t.auth('viewer') });
  expect(res.statusCode).toBe(200);
  return { text: res.body, samples: parse(res.body) };
}

const DURATION = 'switchboard_driver_command_duration_seconds';
const WAIT = 'switchboard_driver_slot_wait_seconds';
const LATENCY_MS = 150;

describe('driver command duration and slot wait', () => {
  it('both histograms are described, and filled after power ops', async () => {
    const node = await t.simNode('mw-solo', { latencyMs: 5 });
    const res = await t.app.inject({ method: 'POST', url: `/api/v1/nodes/${node.id}/power`, headers: t.auth('operator'), payload: { action: 'off' } });
    expect(res.statusCode).toBe(202);
    await t.quiet();
    const { text, samples } = await scrape();
    expect(text).toMatch(new RegExp(`# HELP ${DURATION} .*from its send`));
    expect(text).toMatch(new RegExp(`# TYPE ${DURATION} histogram`));
    expect(text).toMatch(new RegExp(`# HELP ${WAIT} .*waited for its BMC slot`));
    expect(text).toMatch(new RegExp(`# TYPE ${WAIT} histogram`));
    for (const command of ['step', 'query']) {
      expect(total(samples, `${DURATION}_count`, { driver: 'sim', command, outcome: 'ok' })).toBeGreaterThan(0);
      expect(total(samples, `${WAIT}_count`, { driver: 'sim', command })).toBeGreaterThan(0);
    }
  });

  it('two nodes on one BMC (per-BMC limit 1): one waits for the other, and that wait is not in the command’s duration', async () => {
    const bmc = `shared-${Date.now()}`;
    const a = await t.simNode('mw-a', { bmc, latencyMs: LATENCY_MS });
    const b = await t.simNode('mw-b', { bmc, latencyMs: LATENCY_MS });
    await t.quiet();
    const before = (await scrape()).samples;
    const waitsBefore = total(before, `${WAIT}_count`, { driver: 'sim' });
    const overTenthBefore = waitsBefore - total(before, `${WAIT}_bucket`, { driver: 'sim', le: '0.1' });
    const durationsBefore = total(before, `${DURATION}_count`, { driver: 'sim', command: 'step' });

    // Both offs at once: the second is sent only once the first has answered.
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/power', headers: t.auth('operator'), payload: { nodes: [a.id, b.id], action: 'off' } });
    expect(res.json().results.map((r: { status: number }) => r.status)).toEqual([202, 202]);
    await eventually(() => ([a, b].every((n) => t.host.getNode(n.id)?.power.inFlight === null) ? true : undefined), 10_000, 'both offs done');
    await t.quiet();

    const after = (await scrape()).samples;
    const waits = total(after, `${WAIT}_count`, { driver: 'sim' }) - waitsBefore;
    // Two offs and at least one verifying query each.
    expect(waits).toBeGreaterThanOrEqual(4);
    // At least one command waited most of a command's latency behind the other node's.
    const overTenth = total(after, `${WAIT}_count`, { driver: 'sim' }) - total(after, `${WAIT}_bucket`, { driver: 'sim', le: '0.1' }) - overTenthBefore;
    expect(overTenth).toBeGreaterThanOrEqual(1);
    expect(total(after, `${WAIT}_sum`, { driver: 'sim' }) - total(before, `${WAIT}_sum`, { driver: 'sim' })).toBeGreaterThan(0.1);

    // Each step took about its latency from its send: none counts the other's command as its own.
    const steps = total(after, `${DURATION}_count`, { driver: 'sim', command: 'step' }) - durationsBefore;
    expect(steps).toBe(2);
    const stepsUnderQuarter =
      total(after, `${DURATION}_bucket`, { driver: 'sim', command: 'step', le: '0.25' }) -
      total(before, `${DURATION}_bucket`, { driver: 'sim', command: 'step', le: '0.25' });
    expect(stepsUnderQuarter).toBe(2);
    const stepSeconds = total(after, `${DURATION}_sum`, { driver: 'sim', command: 'step' }) - total(before, `${DURATION}_sum`, { driver: 'sim', command: 'step' });
    expect(stepSeconds).toBeGreaterThanOrEqual((2 * LATENCY_MS * 0.9) / 1000);
    expect(stepSeconds).toBeLessThan((2 * LATENCY_MS * 1.6) / 1000);
    expect(t.fleet.overlaps().bmcLimitViolations).toBe(0);
  });
});
