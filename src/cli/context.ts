/** What an API command needs: the client (URL and token from flags, else the environment) and the output. */
import { ConfigError, loadCliSettings, type CliSettings } from '../config.ts';
import { stringOf, type Values } from './args.ts';
import { ApiClient } from './client.ts';
import { CliError, UsageError } from './errors.ts';
import { createOutput, type Output } from './output.ts';

export interface CliContext {
  client: ApiClient;
  out: Output;
}

export function contextOf(values: Values, usage: string, settings: () => CliSettings = loadCliSettings): CliContext {
  let loaded: CliSettings;
  try {
    loaded = settings();
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(`environment: ${err.message}`);
    throw err;
  }
  const flagUrl = stringOf(values, 'url');
  if (flagUrl !== undefined && (!/^https?:\/\/[^\s/]+/.test(flagUrl) || !URL.canParse(flagUrl))) {
    throw new UsageError(`--url: expected an http:// or https:// URL such as http://127.0.0.1:3000, got "${flagUrl}"`, usage);
  }
  const token = stringOf(values, 'token') ?? loaded.token;
  if (token !== undefined && !/^[\x21-\x7e]{1,512}$/.test(token)) {
    throw new UsageError('--token: expected the token printed by the server or by "switchboard token create" (printable, no spaces)', usage);
  }
  const url = flagUrl === undefined ? loaded.url : flagUrl.replace(/\/+$/, '');
  return { client: new ApiClient(url, token), out: createOutput(values.json === true) };
}

/** For commands that change things: say up front that a token is needed rather than wait for the 401. */
export function requireToken(ctx: CliContext, role: string): void {
  if (ctx.client.token !== undefined) return;
  throw new CliError(
    `this needs an API token with the ${role} role. Pass --token TOKEN or set SWITCHBOARD_TOKEN. ` +
      'The server prints an admin token on its first start; an admin makes more with "switchboard token create NAME --role operator".',
  );
}
