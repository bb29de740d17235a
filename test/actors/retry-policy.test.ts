/**
 * The retry policy reaches the chart of a real node: a driver's defaults apply unless the node
 * overrides them (attempts in `params.timing`, delays in `params.retry`), and the host waits
 * what the chart scheduled.
 */
import { afterEach, expect, it } from 'vitest';
import { nodeSettings } from '../../src/actors/node-settings.ts';
import type { Host } from '../../src/actors/types.ts';
import { listOpsByNode } from '../../src/db/index.ts';
import { listEventsByNode } from '../../src/db/repositories/events.ts';
import { createDriverRegistry } from '../../src/drivers/registry.ts';
import { createSimDriver, SimBmcFleet } from '../../src/drivers/sim/index.ts';
import { DriverError, type PowerDriver } from '../../src/drivers/types.ts';
import { DEFAULT_RETRY_POLICY } from '../../src/machines/retry.ts';
import { describeEachBackend } from '../support/database.ts';
import { buildTestHost, until } from '../support/host.ts';

const user = { requestedBy: 'tester' };
const hosts: Host[] = [];
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.stop()));
});

it('gives every real driver’s node the default retry policy (manual: one attempt, a person confirms)', async () => {
  const registry = createDriverRegistry({ sim: { fleet: new SimBmcFleet() } });
  const minimal: Record<string, unknown> = {
    sim: {},
    ipmi: { host: '10.0.0.5', user: 'u', password: 'p' },
    redfish: { url: 'https://10.0.0.6/redfish/v1/', user: 'u', password: 'p' },
    virsh: { uri: 'test:///default', domain: 'd' },
    webhook: { onUrl: 'http://pdu/on', offUrl: 'http://pdu/off' },
    manual: {},
  };
  try {
    for (const [name, driver] of Object.entries(registry.drivers)) {
      const settings = nodeSettings({ driftPolicy: 'adopt', softOffEscalate: true }, (driver as PowerDriver).capabilities(minimal[name] as never));
      expect(settings.retry, name).toEqual(name === 'manual' ? { ...DEFAULT_RETRY_POLICY, attempts: 1 } : DEFAULT_RETRY_POLICY);
    }
  } finally {
    await registry.close();
  }
});

describeEachBackend('retry policy in the host', (t) => {
  it('a node’s overrides change how often a step is tried and how long the host waits between tries', async () => {
    const fleet = new SimBmcFleet();
    const sim = createSimDriver({ fleet });
    const offs: number[] = [];
    // Every off fails retryably; the verifying query then reads the node still on.
    const failingOff = {
      ...sim,
      async powerOff() {
        offs.push(Date.now());
        throw new DriverError('busy', 'BMC busy');
      },
    } as PowerDriver;
    const built = buildTestHost(t.db, { fleet, drivers: { sim: failingOff as never } });
    hosts.push(built.host);
    const { host } = built;
    await host.start();
    const retry = { baseDelayMs: 100, multiplier: 3, maxDelayMs: 500, jitter: 0 };
    const node = await host.createNode(
      { name: `retry-${Date.now()}`, driver: 'sim', params: { initialPower: 'on', latencyMs: 2, timing: { attempts: 4 }, retry } },
      user,
    );
    await until(() => host.getNode(node.id)!.power.phase === 'idle', 'the first query ends');

    const answer = await host.requestPower(node.id, 'off', user);
    await until(() => host.getNode(node.id)!.power.phase === 'idle', 'the op ends after its attempts', 10_000);
    const op = (await listOpsByNode(t.db, node.id)).items.find((o) => o.id === answer.op!.id)!;
    expect([op.state, op.attempts]).toEqual(['failed', 4]);
    expect(offs).toHaveLength(4);

    // 100 ms, ×3 = 300 ms, ×3 = 900 ms capped at 500 ms; jitter 0 makes them exact.
    const events = (await listEventsByNode(t.db, node.id, { limit: 200 })).items.filter((e) => e.kind === 'retry_scheduled').sort((a, b) => a.id - b.id);
    expect(events.map((e) => /retrying in (\d+) ms/.exec(JSON.stringify(e.detail))?.[1])).toEqual(['100', '300', '500']);
    const gaps = offs.slice(1).map((at, i) => at - offs[i]!);
    [100, 300, 500].forEach((wait, i) => expect(gaps[i]).toBeGreaterThanOrEqual(wait - 5));
  });

  it('a node without overrides waits the default policy’s delay', async () => {
    const fleet = new SimBmcFleet();
    const sim = createSimDriver({ fleet });
    const failingOff = { ...sim, powerOff: async () => Promise.reject(new DriverError('busy', 'BMC busy')) } as PowerDriver;
    const built = buildTestHost(t.db, { fleet, drivers: { sim: failingOff as never } });
    hosts.push(built.host);
    await built.host.start();
    const node = await built.host.createNode({ name: `default-${Date.now()}`, driver: 'sim', params: { initialPower: 'on', latencyMs: 2 } }, user);
    await until(() => built.host.getNode(node.id)!.power.phase === 'idle', 'the first query ends');
    await built.host.requestPower(node.id, 'off', user);
    await until(() => built.host.getNode(node.id)!.power.phase === 'backoff', 'the first attempt failed');
    await until(async () => (await listEventsByNode(t.db, node.id)).items.some((e) => e.kind === 'retry_scheduled'), 'the retry is on record');
    const event = (await listEventsByNode(t.db, node.id)).items.find((e) => e.kind === 'retry_scheduled')!;
    const waited = Number(/retrying in (\d+) ms/.exec(JSON.stringify(event.detail))?.[1]);
    // Equal jitter of the 2 s base: between 1 s and 2 s, whatever the host drew.
    expect(waited).toBeGreaterThanOrEqual(DEFAULT_RETRY_POLICY.baseDelayMs * (1 - DEFAULT_RETRY_POLICY.jitter));
    expect(waited).toBeLessThanOrEqual(DEFAULT_RETRY_POLICY.baseDelayMs);
  });
});

describeEachBackend('retry jitter from the host', (t) => {
  it('the host’s draw, carried on the failing result, sets where in the jitter range the wait falls', async () => {
    const fleet = new SimBmcFleet();
    const sim = createSimDriver({ fleet });
    const failingOff = { ...sim, powerOff: () => Promise.reject(new DriverError('busy', 'BMC busy')) } as PowerDriver;
    const built = buildTestHost(t.db, { fleet, drivers: { sim: failingOff as never }, random: () => 0.25 });
    hosts.push(built.host);
    const { host } = built;
    await host.start();
    // Full jitter over a flat 400 ms: a draw of 0.25 waits 100 ms.
    const retry = { baseDelayMs: 400, multiplier: 1, maxDelayMs: 400, jitter: 1 };
    const node = await host.createNode({ name: `jitter-${Date.now()}`, driver: 'sim', params: { initialPower: 'on', latencyMs: 2, timing: { attempts: 2 }, retry } }, user);
    await until(() => host.getNode(node.id)!.power.phase === 'idle', 'the first query ends');
    await host.requestPower(node.id, 'off', user);
    await until(() => host.getNode(node.id)!.power.phase === 'idle', 'the op ends after its attempts', 10_000);
    const events = (await listEventsByNode(t.db, node.id, { limit: 200 })).items.filter((e) => e.kind === 'retry_scheduled');
    expect(events.map((e) => /retrying in (\d+) ms/.exec(JSON.stringify(e.detail))?.[1])).toEqual(['100']);
  });
});
