/**
 * `switchboard serve [--demo N]`: runs the server in this process, exactly as `npm start` does
 * (src/server.ts reads its flags from the command line and its settings from the environment).
 */
import { parseCommand, stringOf, intOf } from '../args.ts';
import { UsageError } from '../errors.ts';
import { EXIT, type ExitCode } from '../exit-codes.ts';

export const SERVE_USAGE = `Usage: switchboard serve [--demo N]

Starts the Switchboard server (API, web UI, WebSocket stream), like "npm start".
  --demo N   seed N simulated nodes and open read access from localhost
Settings come from the environment: PORT (3000), HOST (127.0.0.1), DATABASE_URL (else embedded
PGlite in SWITCHBOARD_DATA_DIR, default ./data), SWITCHBOARD_SECRET_KEY, SWITCHBOARD_LOG_LEVEL,
limits and intervals (see README). On the first start it prints an admin token once.
Ctrl-C stops it (exit 0); a bad setting stops the start (exit 1).`;

export async function serveCommand(args: readonly string[]): Promise<ExitCode> {
  const { values, positionals } = parseCommand(args, { demo: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, SERVE_USAGE, false);
  if (values.help === true) {
    process.stdout.write(`${SERVE_USAGE}\n`);
    return EXIT.ok;
  }
  if (positionals.length > 0) {
    throw new UsageError(`serve takes no arguments, got "${positionals.join(' ')}"`, SERVE_USAGE);
  }
  const demo = stringOf(values, 'demo');
  intOf('--demo', demo, 0, 0, 100_000, SERVE_USAGE);
  // src/server.ts looks for "--demo" followed by the number as the next argument.
  if (demo !== undefined && !args.includes('--demo')) throw new UsageError('write --demo N with a space, e.g. --demo 20', SERVE_USAGE);
  // The server reads --demo from process.argv itself, stops itself on SIGINT/SIGTERM, and exits.
  await import('../../server.ts');
  return new Promise<ExitCode>(() => undefined);
}
