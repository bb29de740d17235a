/**
 * Runs a sim BMC fleet as its own process, or sends it one command.
 *
 *   tsx src/drivers/sim/cli.ts [--port 0] [--host 127.0.0.1] [--bmc-limit 1] [--min-interval-ms 0]
 *                              [--history-per-node 16] [--exit-on-stdin-close]
 *       Serves the fleet; prints {"url": "...", "pid": n} as one JSON line on stdout.
 *       --exit-on-stdin-close: stop when the parent closes our stdin (or dies), for test runners.
 *   tsx src/drivers/sim/cli.ts call --url URL --node ID --kind on|off|soft|query [--params JSON]
 *       Sends one command through the sim driver and prints the answer as JSON.
 */
import { parseArgs } from 'node:util';
import { DriverError } from '../types.ts';
import { isSimCommandKind } from './backend.ts';
import { SimBmcFleet } from './bmc-fleet.ts';
import { createSimDriver } from './driver.ts';
import { startSimServer } from './server.ts';

async function serve(args: string[]): Promise<void> {
  const { values } = usage(() => parseArgs({
    args,
    options: {
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      'bmc-limit': { type: 'string', default: '1' },
      'min-interval-ms': { type: 'string', default: '0' },
      'history-per-node': { type: 'string', default: '16' },
      'exit-on-stdin-close': { type: 'boolean', default: false },
    },
  }));
  const fleet = new SimBmcFleet({
    bmcLimit: intArg(values['bmc-limit'], '--bmc-limit'),
    minIntervalMs: intArg(values['min-interval-ms'], '--min-interval-ms'),
    historyPerNode: intArg(values['history-per-node'], '--history-per-node'),
  });
  const server = await startSimServer({ fleet, port: intArg(values.port, '--port'), host: values.host });
  process.stdout.write(`${JSON.stringify({ url: server.url, pid: process.pid })}\n`);
  const stop = (): void => {
    setTimeout(() => process.exit(1), 2_000).unref();
    server.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // For tests: a sim that must outlive Switchboard should still not outlive the test runner.
  if (values['exit-on-stdin-close']) {
    process.stdin.on('data', () => undefined);
    process.stdin.once('end', stop);
    process.stdin.once('error', stop);
  }
}

async function call(args: string[]): Promise<void> {
  const { values } = usage(() => parseArgs({
    args,
    options: {
      url: { type: 'string' },
      node: { type: 'string' },
      bmc: { type: 'string' },
      kind: { type: 'string' },
      params: { type: 'string', default: '{}' },
    },
  }));
  if (!values.url || !values.node) throw new UsageError('call needs --url and --node');
  if (!isSimCommandKind(values.kind)) throw new UsageError('--kind must be on, off, soft or query');
  let params: Record<string, unknown>;
  try {
    params = JSON.parse(values.params) as Record<string, unknown>;
  } catch {
    throw new UsageError('--params must be JSON');
  }
  const driver = createSimDriver({ url: values.url });
  const target = { nodeId: values.node, bmc: values.bmc ?? driver.defaultBmc(params, values.node), params };
  const signal = new AbortController().signal;
  try {
    const kind = values.kind;
    const result =
      kind === 'query' ? { power: await driver.query(target, signal) }
      : kind === 'on' ? await driver.powerOn(target, signal)
      : kind === 'off' ? await driver.powerOff(target, signal)
      : await driver.softOff(target, signal);
    process.stdout.write(`${JSON.stringify({ ok: true, ...result })}\n`);
  } finally {
    await driver.close();
  }
}

class UsageError extends Error {}

/** Reports node:util parseArgs complaints as usage errors. */
function usage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

function intArg(raw: string, name: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n)) throw new UsageError(`${name} must be a non-negative integer, got "${raw}"`);
  return n;
}

async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'call') await call(argv.slice(1));
  else await serve(argv[0] === 'serve' ? argv.slice(1) : argv);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  const kind = err instanceof DriverError ? err.kind : err instanceof UsageError ? 'usage' : 'error';
  process.stderr.write(`${JSON.stringify({ ok: false, kind, message })}\n`);
  process.exit(err instanceof UsageError ? 2 : 1);
});
