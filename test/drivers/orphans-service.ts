/**
 * A service-like process for the orphan tests: runs one real ipmitool through runCommand (so
 * through the spawn helper, as the ipmi driver does) against a BMC that never answers, reports
 * what it started as JSON lines on stdout, and then waits to be killed.
 *
 *   node --import tsx test/drivers/orphans-service.ts '{"port": 12345, "setpriv": false}'
 *
 * Lines: {type: 'spawned', pid, argv, helper, pdeathsig} once ipmitool is started;
 *        {type: 'failed', kind, message} or {type: 'done', exitCode} when runCommand settles.
 * It exits when its stdin closes, so it never outlives the test that started it.
 */
import { runCommand } from '../../src/drivers/child-process.ts';
import { configureSpawnHelper, spawnHelperPdeathsig, spawnHelperPid } from '../../src/drivers/spawner.ts';
import { DriverError } from '../../src/drivers/types.ts';

export interface OrphanServiceOptions {
  readonly port: number;
  /** Passed to configureSpawnHelper: false runs the helper without setpriv. */
  readonly setpriv?: string | false;
}

export type OrphanServiceLine =
  | { type: 'spawned'; pid: number; argv: string[]; helper: number; pdeathsig: boolean | null }
  | { type: 'failed'; kind: string; message: string }
  | { type: 'done'; exitCode: number | null };

function say(line: OrphanServiceLine): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

const options = JSON.parse(process.argv[2] ?? '{}') as OrphanServiceOptions;
if (options.setpriv !== undefined) configureSpawnHelper({ setpriv: options.setpriv });

process.stdin.resume();
process.stdin.on('close', () => process.exit(0));
process.stdin.on('end', () => process.exit(0));

runCommand({
  command: 'ipmitool',
  // -N 6 -R 3 against a silent BMC: about 20 s of retries before ipmitool gives up.
  args: ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(options.port), '-U', 'u', '-E', '-N', '6', '-R', '3', 'chassis', 'power', 'status'],
  env: { PATH: '/usr/bin:/bin', IPMI_PASSWORD: 'orphan-test' },
  signal: new AbortController().signal,
  timeoutMs: 120_000,
  onSpawn: ({ pid, argv }) => say({ type: 'spawned', pid, argv: [...argv], helper: spawnHelperPid() ?? 0, pdeathsig: spawnHelperPdeathsig() ?? null }),
}).then(
  (r) => say({ type: 'done', exitCode: r.exitCode }),
  (err: unknown) => say({ type: 'failed', kind: err instanceof DriverError ? err.kind : 'other', message: err instanceof Error ? err.message : String(err) }),
);
