/**
 * End to end through the service: ipmi (ipmi_sim), virsh (a private libvirtd), webhook and
 * redfish nodes registered through the REST API on a listening server, bursts of conflicting
 * power requests fired at once, and then, on the peers themselves:
 *  - no BMC ever got two overlapping commands, and consecutive ones kept the minimum gap
 *    (ipmi_sim's chassis_control log, a recording wrapper around ipmitool and virsh, the
 *    webhook requests seen by a timing proxy, the Redfish server's request log);
 *  - every node ends in its desired state as the API reports it (ipmi_sim's state file,
 *    `virsh domstate`, the webhook server's and the Redfish server's power).
 * Shared BMCs are deliberate: two ipmi_sims behind one `bmc` key (a blade enclosure), three
 * domains on one libvirtd, two webhook controllers behind one `bmc` key, two Redfish systems on
 * one server.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDriverRegistry, type DriverRegistryHandle } from '../../src/drivers/registry.ts';
import { SimBmcFleet } from '../../src/drivers/sim/index.ts';
import { startIpmiSim, type IpmiSimFleet } from '../peers/ipmi-sim.ts';
import { startLibvirtd, type PrivateLibvirtd } from '../peers/libvirtd.ts';
import { startRedfishServer, type RedfishServer } from '../peers/redfish-server.ts';
import { startWebhookServer, type WebhookServer } from '../peers/webhook-server.ts';
import { eventually, startHttpStack, type HttpStack } from '../support/http.ts';
import { IPMI_SIM, IPMITOOL, LIBVIRTD, VIRSH, requirePeers } from '../support/peers.ts';
import { argAfter, readToolRuns, recordingWrapper, scheduleViolations, type Interval } from './command-log.ts';
import { startTimingProxy, type TimingProxy } from './timing-proxy.ts';

/** Applies to every BMC; ipmi asks for 1000 ms itself, and the larger one wins. */
const peers = requirePeers('test/e2e/conflicting-power.test.ts (conflicting requests across ipmi_sim, libvirtd, Redfish and webhook peers)', [IPMI_SIM, IPMITOOL, LIBVIRTD, VIRSH]);
const BMC_MIN_INTERVAL_MS = 100;
const IPMI_MIN_INTERVAL_MS = 1_000;

interface NodeSpec {
  name: string;
  driver: string;
  params: Record<string, unknown>;
  bmc?: string;
}

interface ApiNode {
  id: string;
  name: string;
  bmc: string;
  power: { observed: string; desired: string | null; inFlight: unknown; pending: unknown; lastError: string | null };
}

let scratch: string;
let ipmi: IpmiSimFleet;
let libvirt: PrivateLibvirtd;
let redfish: RedfishServer;
const webhooks: WebhookServer[] = [];
const proxies: TimingProxy[] = [];
let registry: DriverRegistryHandle;
let t: HttpStack;
let base: string;
const specs: NodeSpec[] = [];

const ipmitoolLog = () => join(scratch, 'ipmitool.log');
const virshLog = () => join(scratch, 'virsh.log');
const DOMAINS = ['vm-0', 'vm-1', 'vm-2'];

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${t.tokens.admin}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text === '' ? null : (JSON.parse(text) as unknown) };
}

async function listNodes(): Promise<ApiNode[]> {
  const res = await api('GET', '/api/v1/nodes?limit=100');
  expect(res.status).toBe(200);
  return (res.json as { items: ApiNode[] }).items;
}

beforeAll(async () => {
  if (!peers) return;
  scratch = await mkdtemp(join(tmpdir(), 'switchboard-e2e-'));
  [ipmi, libvirt, redfish] = await Promise.all([
    startIpmiSim(3, { initialPower: 'off' }),
    startLibvirtd(),
    startRedfishServer({ systemIds: ['1', '2'], initialPower: 'Off', transitionMs: 100 }),
  ]);
  // Every chassis command takes a while, so two sent at once would be seen overlapping.
  for (let i = 0; i < 3; i++) await ipmi.setDelay(i, 60);
  await libvirt.defineDomain('vm-0', 'running');
  await libvirt.defineDomain('vm-1', 'shut off');
  await libvirt.defineDomain('vm-2', 'running');
  for (let i = 0; i < 2; i++) {
    const server = await startWebhookServer({ authorization: 'Bearer hook-token', initialPower: i === 0 ? 'on' : 'off' });
    webhooks.push(server);
    proxies.push(await startTimingProxy(server.url, 40));
  }
  await recordingWrapper(join(scratch, 'ipmitool'), '/usr/bin/ipmitool', ipmitoolLog());
  await recordingWrapper(join(scratch, 'virsh'), '/usr/bin/virsh', virshLog(), 40);

  registry = createDriverRegistry({
    sim: { fleet: new SimBmcFleet() },
    ipmi: { ipmitoolPath: join(scratch, 'ipmitool') },
    virsh: { virshPath: join(scratch, 'virsh') },
    http: { requestTimeoutMs: 5_000 },
  });
  t = await startHttpStack({
    drivers: registry.drivers,
    env: { SWITCHBOARD_VERIFY_POLL_MS: '50', SWITCHBOARD_BMC_MIN_INTERVAL_MS: String(BMC_MIN_INTERVAL_MS), SWITCHBOARD_PER_BMC_CONCURRENCY: '1' },
  });
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  const address = t.app.server.address();
  if (address === null || typeof address === 'string') throw new Error('the app did not listen on a TCP port');
  base = `http://127.0.0.1:${address.port}`;

  ipmi.bmcs.forEach((b, i) =>
    specs.push({
      name: `ipmi-${i}`,
      driver: 'ipmi',
      params: { host: b.host, port: b.port, user: b.user, password: b.password },
      // ipmi-0 and ipmi-1 sit in one enclosure: one BMC key, so they share its limits.
      ...(i < 2 ? { bmc: 'enclosure-a' } : {}),
    }),
  );
  for (const domain of DOMAINS) specs.push({ name: `virsh-${domain}`, driver: 'virsh', params: { uri: libvirt.uri, domain } });
  proxies.forEach((p, i) =>
    specs.push({
      name: `hook-${i}`,
      driver: 'webhook',
      bmc: 'pdu-1',
      params: {
        onUrl: `${p.url}/power/on`,
        offUrl: `${p.url}/power/off`,
        softOffUrl: `${p.url}/power/soft`,
        queryUrl: `${p.url}/power/status`,
        onRegex: '"power":"on"',
        offRegex: '"power":"off"',
        bearer: 'hook-token',
      },
    }),
  );
  for (const systemId of ['1', '2']) {
    specs.push({ name: `redfish-${systemId}`, driver: 'redfish', params: { url: redfish.url, systemId, user: 'admin', password: 'secret' } });
  }
}, 60_000);

afterAll(async () => {
  if (!peers) return;
  await t?.close();
  await registry?.close();
  await Promise.all([ipmi?.stop(), libvirt?.stop(), redfish?.close(), ...webhooks.map((w) => w.close()), ...proxies.map((p) => p.close())]);
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** Waits until no node has an op in flight or pending, then compares each peer's real power with the API. */
async function expectConverged(when: string): Promise<void> {
  const settled = await eventually(
    async () => {
      const nodes = await listNodes();
      return nodes.length === specs.length && nodes.every((n) => n.power.inFlight === null && n.power.pending === null) ? nodes : undefined;
    },
    40_000,
    `every node idle ${when}`,
  );
  const real = new Map<string, string>();
  for (let i = 0; i < 3; i++) real.set(`ipmi-${i}`, await ipmi.readPower(i));
  for (const domain of DOMAINS) {
    const state = await libvirt.domstate(domain);
    real.set(`virsh-${domain}`, state === 'running' ? 'on' : state === 'shut off' ? 'off' : state);
  }
  webhooks.forEach((w, i) => real.set(`hook-${i}`, w.power));
  for (const systemId of ['1', '2']) real.set(`redfish-${systemId}`, (redfish.power(systemId) ?? 'none').toLowerCase());
  for (const n of settled) {
    const seen = { when, node: n.name, desired: n.power.desired, observed: n.power.observed, real: real.get(n.name), lastError: n.power.lastError };
    expect(seen.desired, JSON.stringify(seen)).toMatch(/^(on|off)$/);
    expect(seen).toEqual({ ...seen, observed: seen.desired, real: seen.desired });
  }
}

/** Each burst: every node gets these at once; the chart coalesces, queues or refuses them. */
const BURSTS: readonly (readonly string[])[] = [
  ['on', 'off', 'cycle', 'on', 'soft_off', 'off'],
  ['off', 'on', 'on', 'cycle', 'off', 'on'],
  ['soft_off', 'cycle', 'off', 'on'],
];

describe.runIf(peers)('conflicting power requests across real peers', () => {
  it('never overlaps commands on a BMC and converges every node on its desired state', async () => {
    for (const spec of specs) {
      const created = await api('POST', '/api/v1/nodes', spec);
      expect(created.status, JSON.stringify(created.json)).toBe(201);
      // `new` permits only off; `broken` permits every power op.
      const broken = await api('POST', `/api/v1/nodes/${spec.name}/lifecycle`, { event: 'mark_broken' });
      expect(broken.status, JSON.stringify(broken.json)).toBeLessThan(300);
    }

    const statuses = new Map<number, number>();
    for (const [i, burst] of BURSTS.entries()) {
      // Rotate per node so nodes on one BMC ask for different things at the same moment.
      const requests = specs.flatMap((spec, n) =>
        burst.map((_, k) => api('POST', `/api/v1/nodes/${spec.name}/power`, { action: burst[(k + n) % burst.length] })),
      );
      for (const res of await Promise.all(requests)) {
        expect([200, 202, 409], JSON.stringify(res.json)).toContain(res.status);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      }
      if (i < BURSTS.length - 1) await new Promise((r) => setTimeout(r, 300 + i * 700));
    }
    // The bursts must really conflict: some requests queued or coalesced, some refused.
    expect(statuses.get(202) ?? 0).toBeGreaterThan(specs.length);
    expect(statuses.get(409) ?? 0).toBeGreaterThan(0);

    await expectConverged('after the bursts');
    // Then every node is driven to the other state and back, one request each, so each
    // driver's on and off both have to reach the peer (a burst may end where a node began).
    for (const round of ['flip', 'flip back']) {
      for (const node of await listNodes()) {
        const action = node.power.desired === 'on' ? 'off' : 'on';
        const res = await api('POST', `/api/v1/nodes/${node.name}/power`, { action });
        expect(res.status, `${round} ${node.name}: ${JSON.stringify(res.json)}`).toBe(202);
      }
      await expectConverged(round);
    }

    // ---- Single flight per BMC, with the minimum gap, as the peers saw it. ----
    const problems: string[] = [];
    const check = (bmc: string, intervals: readonly Interval[], minGap: number) => {
      for (const p of scheduleViolations(intervals, minGap)) problems.push(`${bmc}: ${p}`);
    };
    const chassis = await Promise.all([0, 1, 2].map((i) => ipmi.readLog(i)));
    const asIntervals = (i: number) => (chassis[i] ?? []).map((e) => ({ ...e, what: `bmc${i} chassis ${e.op} ${e.args.join(' ')}` }));
    expect(chassis.every((log) => log.some((e) => e.op === 'set'))).toBe(true);
    // One ipmitool run may call chassis_control more than once, so the gap is checked on the runs.
    check('enclosure-a (chassis_control)', [...asIntervals(0), ...asIntervals(1)], 0);
    check('ipmi-2 (chassis_control)', asIntervals(2), 0);
    const ipmiRuns = await readToolRuns(ipmitoolLog());
    const runsOf = (i: number) => ipmiRuns.filter((r) => argAfter(r.args, '-p') === String(ipmi.bmcs[i]?.port));
    check('enclosure-a (ipmitool)', [...runsOf(0), ...runsOf(1)], IPMI_MIN_INTERVAL_MS);
    check('ipmi-2 (ipmitool)', runsOf(2), IPMI_MIN_INTERVAL_MS);
    const virshRuns = await readToolRuns(virshLog());
    expect(new Set(virshRuns.map((r) => argAfter(r.args, '--domain')))).toEqual(new Set(DOMAINS));
    check(`virsh ${libvirt.uri}`, virshRuns, BMC_MIN_INTERVAL_MS);
    const hookRequests = proxies.flatMap((p, i) => p.log.map((e) => ({ ...e, what: `hook-${i} ${e.what}` })));
    expect(webhooks.every((w) => w.log.some((e) => e.method === 'POST'))).toBe(true);
    check('pdu-1 (webhook)', hookRequests, BMC_MIN_INTERVAL_MS);
    const redfishCommands = redfish.log.filter((r) => r.path.startsWith('/redfish/v1/Systems/')).map((r) => ({ startMs: r.start, endMs: r.end, what: `${r.method} ${r.path}` }));
    expect(redfish.log.some((r) => r.method === 'POST')).toBe(true);
    // One driver command is a few requests in a row (read the system, then reset): no gap rule here.
    check(`redfish ${redfish.url}`, redfishCommands, 0);
    expect(redfish.maxConcurrent).toBe(1);
    expect(problems).toEqual([]);
  }, 90_000);
});
