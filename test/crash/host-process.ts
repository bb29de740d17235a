/**
 * The host under test, as its own process: opens the database, builds the actor host with the
 * sim driver speaking to the sim BMC process, starts it (restore + RECOVER), optionally waits
 * until the fleet is idle and reports it, then sends itself a seeded stream of conflicting
 * requests until it is killed. Every op the host acknowledged is appended to the ack file
 * (one write + fdatasync per ack). At its next start, before a host exists, the process checks the
 * database against that file and reports what is missing: the parent has to wait for no
 * second open of a single-process PGlite.
 *
 *   node --import tsx test/crash/host-process.ts '<HostChildOptions as JSON>'
 */
import type { Kysely } from 'kysely';
import { closeSync, fdatasyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { Host } from '../../src/actors/types.ts';
import { loadConfig } from '../../src/config.ts';
import type { Database } from '../../src/db/schema.ts';
import { createSimDriver } from '../../src/drivers/sim/index.ts';
import { AppError } from '../../src/errors.ts';
import type { LifecycleEventType, PowerAction } from '../../src/machines/types.ts';
import { keyFingerprint, type SecretKey } from '../../src/secrets.ts';
import { openMigrated } from './crash-database.ts';
import { missingAckedOps } from './checks.ts';
import { formatAck, parseAcks, type ChildLine, type HostChildOptions, type SettledNode } from './protocol.ts';
import { seededRandom } from './random.ts';
import { createSwitchboard } from '../../src/switchboard.ts';

const POWER: readonly PowerAction[] = ['on', 'off', 'cycle', 'soft_off'];
const LIFECYCLE: readonly LifecycleEventType[] = [
  'commission', 'commissioning_done', 'allocate', 'deploy', 'deploy_done', 'release', 'abort',
  'rescue', 'rescue_done', 'exit_rescue', 'mark_broken', 'mark_fixed', 'deploy_failed', 'rescue_failed',
];
const caller = { requestedBy: 'crash-test' };

function say(line: ChildLine): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

async function ensureFleet(host: Host, o: HostChildOptions): Promise<void> {
  const have = new Set(host.listNodes().map((n) => n.name));
  const missing: number[] = [];
  for (let i = 0; i < o.nodes; i++) if (!have.has(nodeName(i))) missing.push(i);
  for (let at = 0; at < missing.length; at += 25) {
    await Promise.all(missing.slice(at, at + 25).map((i) => host.createNode({
      name: nodeName(i),
      driver: 'sim',
      params: { bmc: `bmc-${Math.floor(i / o.nodesPerBmc)}`, latencyMs: o.latencyMs, latencyJitterMs: o.latencyMs, seed: i },
    }, caller)));
  }
}

function nodeName(i: number): string {
  return `crash-${String(i).padStart(5, '0')}`;
}

function isIdle(host: Host): boolean {
  return host.stats().commandsInFlight === 0
    && host.listNodes().every((n) => n.fault !== null || (n.power.phase === 'idle' && n.power.inFlight === null && n.power.pending === null));
}

/**
 * Idle in memory twice in a row and no op open in the database: the view changes before its
 * group commit lands, so memory alone would call a fleet settled whose last results are not
 * durable yet.
 */
async function settle(host: Host, db: Kysely<Database>, timeoutMs: number): Promise<number> {
  const began = Date.now();
  let streak = 0;
  while (streak < 2) {
    if (Date.now() - began > timeoutMs) throw new Error(`the fleet did not settle within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
    const idle = isIdle(host) && (await db.selectFrom('power_ops').select('id').where('state', 'in', ['pending', 'in_flight']).limit(1).execute()).length === 0;
    streak = idle ? streak + 1 : 0;
  }
  return Date.now() - began;
}

function runLoad(host: Host, o: HostChildOptions, load: NonNullable<HostChildOptions['load']>, ackFd: number): void {
  const random = seededRandom(o.seed);
  const ids = host.listNodes().map((n) => n.id);
  const stats = { requests: 0, acked: 0, refused: 0, errors: {} as Record<string, number> };
  let outstanding = 0;
  let credit = 0;
  const tickMs = 10;
  const one = async (): Promise<void> => {
    const id = ids[Math.floor(random() * ids.length)]!;
    const power = random() < 0.6;
    const request = power ? POWER[Math.floor(random() * POWER.length)]! : LIFECYCLE[Math.floor(random() * LIFECYCLE.length)]!;
    stats.requests++;
    try {
      const answer = power ? await host.requestPower(id, request as PowerAction, caller) : await host.lifecycle(id, request as LifecycleEventType, caller);
      if (answer.result === 'refused') stats.refused++;
      else if (answer.op) {
        writeSync(ackFd, formatAck({ opId: answer.op.id, nodeId: id, request: `${power ? 'power' : 'lifecycle'}:${request}`, result: answer.result }));
        fdatasyncSync(ackFd);
        stats.acked++;
      }
    } catch (err) {
      const code = err instanceof AppError ? err.code : 'unexpected';
      stats.errors[code] = (stats.errors[code] ?? 0) + 1;
      if (code === 'unexpected') say({ type: 'fatal', message: `request threw: ${err instanceof Error ? err.stack : String(err)}` });
    }
  };
  setInterval(() => {
    credit += (load.perSecond * tickMs) / 1000;
    while (credit >= 1 && outstanding < load.maxOutstanding) {
      credit--;
      outstanding++;
      void one().finally(() => outstanding--);
    }
    if (credit > load.perSecond) credit = load.perSecond;
  }, tickMs);
  setInterval(() => say({ type: 'stats', ...stats }), 200);
}

async function main(): Promise<void> {
  const raw = process.argv[2];
  if (raw === undefined) throw new Error('usage: host-process.ts <options JSON>');
  const o = JSON.parse(raw) as HostChildOptions;
  // The parent going away (or closing our stdin) ends us too: no orphans after a test run.
  process.stdin.on('data', () => undefined);
  process.stdin.once('end', () => process.exit(0));
  process.stdin.once('error', () => process.exit(0));

  const began = Date.now();
  const handle = await openMigrated(o.database);
  // Before the host touches anything: does the database hold every op the last run acknowledged?
  const acks = parseAcks(readFileSync(o.ackFile, { flag: 'a+', encoding: 'utf8' }));
  const missing = await missingAckedOps(handle.db, acks);
  const count = await handle.db.selectFrom('nodes').select((eb) => eb.fn.countAll<number>().as('n')).where('deleted_at', 'is', null).executeTakeFirstOrThrow();
  say({ type: 'opened', ms: Date.now() - began, acks: acks.length, missing, nodes: Number(count.n) });
  const bytes = Buffer.from(o.secretKeyHex, 'hex');
  const secretKey: SecretKey = { bytes, fingerprint: keyFingerprint(bytes), source: 'config' };
  const config = loadConfig({
    SWITCHBOARD_SYNC_INTERVAL_MS: '0',
    SWITCHBOARD_VERIFY_POLL_MS: '20',
    SWITCHBOARD_COMMIT_WINDOW_MS: '2',
    SWITCHBOARD_GLOBAL_CONCURRENCY: '64',
  });
  const sim = createSimDriver({ url: o.simUrl });
  const { host } = await createSwitchboard({ config, database: handle, secretKey, drivers: { sim: sim as never }, app: false });
  await host.start();
  await ensureFleet(host, o);
  say({ type: 'started', ms: Date.now() - began, nodes: host.listNodes().length });

  if (o.settle) {
    const ms = await settle(host, handle.db, o.settleTimeoutMs);
    const nodes: SettledNode[] = host.listNodes().map((n) => ({
      id: n.id, status: n.status, desired: n.power.desired, observed: n.power.observed, lastError: n.power.lastError, fault: n.fault,
    }));
    say({ type: 'settled', ms, nodes });
  }
  if (o.load) {
    const ackFd = openSync(o.ackFile, 'a');
    process.once('exit', () => closeSync(ackFd));
    say({ type: 'loading' });
    runLoad(host, o, o.load, ackFd);
  }
}

main().catch((err: unknown) => {
  say({ type: 'fatal', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exit(1);
});
