/** `switchboard token create NAME --role viewer|operator|admin` (admin). */
import { COMMON_HELP, oneOf, parseCommand, stringOf } from '../args.ts';
import { contextOf, requireToken } from '../context.ts';
import { UsageError } from '../errors.ts';
import { EXIT, type ExitCode } from '../exit-codes.ts';

const ROLES = ['viewer', 'operator', 'admin'] as const;

export const TOKEN_USAGE = `Usage: switchboard token create NAME --role ${ROLES.join('|')}

Creates an API token (needs an admin token). The new token is printed once and never again:
store it. viewer reads; operator also sends power and lifecycle requests; admin also manages
nodes and tokens.

${COMMON_HELP}

Exit codes: 0 created; 1 server unreachable or the token used is not an admin's; 2 usage error.`;

interface CreatedToken {
  id: string;
  name: string;
  role: string;
  token: string;
}

export async function tokenCommand(sub: string | undefined, args: readonly string[]): Promise<ExitCode> {
  if (sub !== 'create') {
    throw new UsageError(sub === undefined ? 'token: say create' : `token: unknown subcommand "${sub}"; say create`, TOKEN_USAGE);
  }
  const { values, positionals } = parseCommand(args, { role: { type: 'string' } }, TOKEN_USAGE);
  if (values.help === true) {
    process.stdout.write(`${TOKEN_USAGE}\n`);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError('token create: give exactly one NAME (who or what uses the token)', TOKEN_USAGE);
  const rawRole = stringOf(values, 'role');
  if (rawRole === undefined) throw new UsageError(`token create: --role is required (${ROLES.join(', ')})`, TOKEN_USAGE);
  const role = oneOf('--role', rawRole, ROLES, TOKEN_USAGE);
  const ctx = contextOf(values, TOKEN_USAGE);
  requireToken(ctx, 'admin');
  const created = await ctx.client.post<CreatedToken>('/api/v1/tokens', { name: positionals[0], role });
  if (ctx.out.json) {
    ctx.out.printJson(created);
  } else {
    ctx.out.note(`created ${created.role} token "${created.name}" (id ${created.id}); it is shown only this once:`);
    ctx.out.line(created.token);
    ctx.out.note(`use it with --token or SWITCHBOARD_TOKEN`);
  }
  return EXIT.ok;
}
