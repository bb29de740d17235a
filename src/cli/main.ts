/** Entry of the `switchboard` command: finds the command, runs it, turns every error into a message and an exit code. */
import { lifecycleCommand } from './commands/lifecycle.ts';
import { nodesCommand } from './commands/nodes.ts';
import { powerCommand } from './commands/power.ts';
import { serveCommand } from './commands/serve.ts';
import { tokenCommand } from './commands/token.ts';
import { watchCommand } from './commands/watch.ts';
import { ApiError, CliError, UsageError } from './errors.ts';
import { EXIT, type ExitCode } from './exit-codes.ts';
import { explainApiError } from './explain.ts';
import { MAIN_USAGE } from './help.ts';
import { splitCommand } from './command-words.ts';

export async function run(argv: readonly string[]): Promise<ExitCode> {
  const { words, rest } = splitCommand(argv);
  const [command, sub] = words;
  switch (command) {
    case undefined:
    case 'help':
      if (command === undefined && !rest.includes('--help') && !rest.includes('-h')) {
        throw new UsageError('say which command to run', MAIN_USAGE);
      }
      process.stdout.write(`${MAIN_USAGE}\n`);
      return EXIT.ok;
    case 'serve':
      return serveCommand(rest);
    case 'nodes':
      return nodesCommand(sub, rest);
    case 'power':
      return powerCommand(rest);
    case 'lifecycle':
      return lifecycleCommand(rest);
    case 'watch':
      return watchCommand(rest);
    case 'token':
      return tokenCommand(sub, rest);
    default:
      throw new UsageError(`unknown command "${command}"`, MAIN_USAGE);
  }
}

function report(err: unknown): ExitCode {
  if (err instanceof UsageError) {
    process.stderr.write(`switchboard: ${err.message}\n`);
    // The synopsis only (up to the first blank line); --help has the rest.
    const synopsis = err.usage?.split('\n\n')[0];
    process.stderr.write(`${synopsis === undefined ? '' : `\n${synopsis}\n\n`}Run "switchboard --help" or "switchboard COMMAND --help" for more.\n`);
    return err.exitCode;
  }
  const cliError = err instanceof ApiError ? explainApiError(err) : err;
  if (cliError instanceof CliError) {
    process.stderr.write(`switchboard: ${cliError.message}\n`);
    return cliError.exitCode;
  }
  const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`switchboard: unexpected error: ${message}\nPlease report this with the command you ran.\n`);
  return EXIT.failure;
}

const code = await run(process.argv.slice(2)).catch(report);
process.exitCode = code;
// Ends the process even if a library keeps a handle open; unref'd, so it never delays a clean exit.
setTimeout(() => process.exit(code), 2_000).unref();
