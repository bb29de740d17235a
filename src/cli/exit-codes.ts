/** Exit codes of the `switchboard` command; `--help` documents them from here. */
export const EXIT = {
  ok: 0,
  /** The server is unreachable, a token is missing or wrong, a server error, a timeout. */
  failure: 1,
  /** Bad command line (unknown flag, missing argument, bad value) or a 400 from the server. */
  usage: 2,
  /** The server refused at least one request (409: the node's status, full slots, busy). */
  refused: 3,
  /** At least one node (or token, op) does not exist (404). */
  notFound: 4,
  /** With --wait: at least one op finished failed or was superseded. */
  opFailed: 5,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export const EXIT_CODES_HELP = `Exit codes:
  0  every node's request was accepted or coalesced (with --wait: and every op succeeded)
  1  other failure: server unreachable, missing/invalid token, server error, timeout
  2  usage error: unknown command or flag, missing argument, bad value
  3  refused: the server refused at least one request (409, e.g. not allowed in the node's status)
  4  not found: at least one node does not exist (404)
  5  with --wait: at least one op failed or was superseded
  When results are mixed the first that applies wins, in the order 1, 4, 3, 5.`;
