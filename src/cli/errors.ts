/** Errors the CLI shows to a person: a message that says what to do next, and an exit code. */
import { EXIT, type ExitCode } from './exit-codes.ts';

export class CliError extends Error {
  constructor(message: string, readonly exitCode: ExitCode = EXIT.failure) {
    super(message);
    this.name = 'CliError';
  }
}

export class UsageError extends CliError {
  constructor(message: string, readonly usage?: string) {
    super(message, EXIT.usage);
    this.name = 'UsageError';
  }
}

/** An error reply of the API: `{ error: { code, message, details? } }` with its HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}
