/**
 * The service for test/crash/slow-ipmi-kill.test.ts, as its own process: opens the database
 * (PGlite in a temp dir, or PostgreSQL when the target names one), builds the actor host with
 * the real ipmi driver and starts it (restore, then recovery of nodes that were mid-command),
 * creates its one ipmi node if the database has none, and then takes requests as JSON lines on
 * stdin until it is killed or its stdin closes.
 *
 *   node --import tsx test/crash/slow-ipmi-process.ts '<SlowIpmiServiceOptions as JSON>'
 *
 * stdin:  {"power": "cycle"} | {"lifecycle": "mark_broken"}
 * stdout: one JSON object per line (SlowIpmiLine): 'started' once the host has started (with the
 *         node as it shows then), 'spawned' for every ipmitool the driver starts, 'answer' for each
 *         request, 'node' for every committed change of the node (with the kinds of its events).
 */
import { createInterface } from 'node:readline';
import type { NodeView } from '../../src/actors/types.ts';
import { loadConfig } from '../../src/config.ts';
import { createIpmiDriver } from '../../src/drivers/ipmi.ts';
import { spawnHelperPdeathsig, spawnHelperPid } from '../../src/drivers/spawner.ts';
import { AppError } from '../../src/errors.ts';
import type { LifecycleEventType, PowerAction } from '../../src/machines/types.ts';
import { keyFingerprint, type SecretKey } from '../../src/secrets.ts';
import { openMigrated, type DatabaseTarget } from './crash-database.ts';
import { createSwitchboard } from '../../src/switchboard.ts';

export interface SlowIpmiServiceOptions {
  readonly database: DatabaseTarget;
  readonly secretKeyHex: string;
  /** The node to create when the database has none. */
  readonly node: { readonly name: string; readonly params: Record<string, unknown> };
}

export type SlowIpmiRequest = { readonly power: PowerAction } | { readonly lifecycle: LifecycleEventType };

export type SlowIpmiLine =
  | { type: 'started'; at: number; pid: number; node: NodeView }
  | { type: 'spawned'; at: number; pid: number; argv: string[]; helper: number | null; pdeathsig: boolean | null }
  | { type: 'answer'; at: number; result: string; opId: string | null; refusal: unknown }
  | { type: 'node'; at: number; node: NodeView; events: string[] }
  | { type: 'fatal'; message: string };

function say(line: SlowIpmiLine): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

const caller = { requestedBy: 'slow-ipmi-crash-test' };

async function main(): Promise<void> {
  const raw = process.argv[2];
  if (raw === undefined) throw new Error('usage: slow-ipmi-process.ts <options JSON>');
  const o = JSON.parse(raw) as SlowIpmiServiceOptions;

  const handle = await openMigrated(o.database);
  const bytes = Buffer.from(o.secretKeyHex, 'hex');
  const secretKey: SecretKey = { bytes, fingerprint: keyFingerprint(bytes), source: 'config' };
  const config = loadConfig({
    SWITCHBOARD_SYNC_INTERVAL_MS: '0',
    SWITCHBOARD_VERIFY_POLL_MS: '20',
    SWITCHBOARD_COMMIT_WINDOW_MS: '2',
  });
  const ipmi = createIpmiDriver({
    onSpawn: ({ pid, argv }) => say({ type: 'spawned', at: Date.now(), pid, argv: [...argv], helper: spawnHelperPid() ?? null, pdeathsig: spawnHelperPdeathsig() ?? null }),
  });
  const { host } = await createSwitchboard({ config, database: handle, secretKey, drivers: { ipmi: ipmi as never }, app: false });
  host.subscribe((change) => say({ type: 'node', at: Date.now(), node: change.node, events: change.events.map((e) => e.kind) }));
  await host.start();
  let node = host.listNodes()[0];
  node ??= await host.createNode({ name: o.node.name, driver: 'ipmi', params: o.node.params }, caller);
  say({ type: 'started', at: Date.now(), pid: process.pid, node: host.getNode(node.id) ?? node });
  const id = node.id;

  // Requests come in on stdin; its end (the test is done, or gone) ends this process.
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.trim() === '') return;
    const request = JSON.parse(line) as SlowIpmiRequest;
    const answer = 'power' in request ? host.requestPower(id, request.power, caller) : host.lifecycle(id, request.lifecycle, caller);
    answer.then(
      (a) => say({ type: 'answer', at: Date.now(), result: a.result, opId: a.op?.id ?? null, refusal: a.refusal ?? null }),
      (err: unknown) => say({ type: 'answer', at: Date.now(), result: err instanceof AppError ? err.code : 'error', opId: null, refusal: err instanceof Error ? err.message : String(err) }),
    );
  });
  process.stdin.once('end', () => process.exit(0));
  process.stdin.once('error', () => process.exit(0));
}

main().catch((err: unknown) => {
  say({ type: 'fatal', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exit(1);
});
