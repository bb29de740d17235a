/** Turns an API error into what a person should read and the exit code it means. */
import { ApiError, CliError } from './errors.ts';
import { EXIT, type ExitCode } from './exit-codes.ts';

export function exitCodeOfStatus(status: number): ExitCode {
  if (status === 404) return EXIT.notFound;
  if (status === 409) return EXIT.refused;
  if (status === 400 || status === 413 || status === 415) return EXIT.usage;
  return EXIT.failure;
}

/** A hint for the next step after an error reply, or '' when the message says enough. */
export function hintFor(status: number, details?: Record<string, unknown>): string {
  switch (status) {
    case 401:
      return 'Pass a token with --token or SWITCHBOARD_TOKEN. The server prints an admin token on its first start; ' +
        'an admin makes more with "switchboard token create NAME --role operator".';
    case 403: {
      const needed = typeof details?.needed === 'string' ? details.needed : 'a higher';
      return `Ask an admin for a token with the ${needed} role ("switchboard token create NAME --role ${needed === 'a higher' ? 'operator' : needed}").`;
    }
    case 404:
      return 'Check the name with "switchboard nodes ls".';
    case 503:
      return 'Nothing was changed; retry shortly.';
    default:
      if (status >= 500) return 'This is a server error; see the server log, then retry.';
      return '';
  }
}

export function explainApiError(err: ApiError): CliError {
  const hint = hintFor(err.status, err.details);
  const allowed = Array.isArray(err.details?.allowedIn) ? ` It is allowed in: ${(err.details.allowedIn as string[]).join(', ')}.` : '';
  return new CliError(`${err.message} (${err.code}, HTTP ${err.status}).${allowed}${hint === '' ? '' : ` ${hint}`}`, exitCodeOfStatus(err.status));
}
