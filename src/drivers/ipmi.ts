/**
 * IPMI 2.0 power driver: drives `ipmitool -I lanplus`. The password reaches ipmitool only
 * through the child's own environment (`-E` reads IPMI_PASSWORD), never its argv, so it does
 * not show in `ps`.
 *
 * `-v` is passed because without it a wrong password, an unknown user and a dead BMC all print
 * the same line ("Unable to establish IPMI v2 / RMCP+ session"); the verbose lines tell them
 * apart. It costs nothing on the wire: measured against ipmi_sim, a run sends the same 11
 * requests with and without it (see IPMITOOL_PACKETS_PER_RUN).
 *
 * ipmitool's packet timing comes from the node's timing (timing.ts): `-N` is the request
 * timeout, the run's deadline is the command budget, and `-R` (ipmitool's *tries* per packet,
 * retransmissions included) is 1 for power commands, so ipmitool never resends one blindly.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { runCommand, type CommandDriverDeps, type RunResult } from './child-process.ts';
import { LIMIT_PARAMS, DEFAULT_ATTEMPTS, resolveLimits, resolveTiming, type Timing } from './timing.ts';
import {
  DriverError,
  type DriverCapabilities,
  type DriverErrorKind,
  type DriverTarget,
  type PowerDriver,
  type Reading,
  type StepAck,
} from './types.ts';

export const IPMI_PRIVILEGES = ['CALLBACK', 'USER', 'OPERATOR', 'ADMINISTRATOR'] as const;

/**
 * The IPMI 2.0 cipher suites (spec table 22-20) that ipmitool's lanplus implements. ipmitool
 * 1.8.19 encrypts with AES-CBC-128 only (the xRC4 suites 4, 5, 9, 10, 13, 14 are not
 * implemented) and has no plain MD5-128 integrity (suites 11–14: it aborts with "Assertion
 * `0' failed" once a BMC accepts 11 or 12). 15–17 are the SHA-256 suites; 17 is ipmitool's
 * own default since 1.8.19, 3 the usual one of older BMCs.
 */
export const IPMI_CIPHER_SUITES = [0, 1, 2, 3, 6, 7, 8, 15, 16, 17] as const;
const CIPHER_DESCRIPTION =
  'IPMI 2.0 cipher suite ipmitool lanplus supports: 0-3, 6-8 or 15-17 (the RC4 and MD5-128 suites 4, 5, 9-14 are not supported)';

export const IpmiParamsSchema = Type.Object(
  {
    // Host names and IP literals only; a leading '-' could never be a host.
    host: Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9_.:%\\[\\]][A-Za-z0-9_.:%\\[\\]-]*$' }),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, default: 623 })),
    user: Type.String({ maxLength: 16 }),
    // IPMI 2.0 caps passwords at 20 bytes.
    password: Type.String({ maxLength: 20 }),
    cipher: Type.Optional(Type.Union(IPMI_CIPHER_SUITES.map((c) => Type.Literal(c)), { default: 3, description: CIPHER_DESCRIPTION })),
    privilege: Type.Optional(Type.Union(IPMI_PRIVILEGES.map((p) => Type.Literal(p)))),
    ...LIMIT_PARAMS,
  },
  { additionalProperties: false },
);
export type IpmiParams = Static<typeof IpmiParamsSchema>;

export interface IpmiDriverDeps extends CommandDriverDeps {
  /** Path of ipmitool; default `ipmitool` looked up on the child's PATH (or the system default). */
  readonly ipmitoolPath?: string;
}

/**
 * Requests one `ipmitool -I lanplus ... chassis power <verb>` sends, measured (ipmitool
 * 1.8.19 against ipmi_sim, counted by test/peers/slow-udp-proxy.ts): Get Channel Auth
 * Capabilities, Open Session, RAKP 1, RAKP 3, then in the session Set Session Privilege, Get
 * PICMG Properties (HPM probe), Get Device ID (OEM probe), two more PICMG probes, the chassis
 * command and Close Session. The same with and without `-v`, for status, on and off. A BMC
 * that takes d seconds per request makes a run last about 11·d.
 */
export const IPMITOOL_PACKETS_PER_RUN = 11;

/**
 * Sized for BMCs that take up to ~5 s to answer each request (iDRAC/iLO class under load).
 *
 * - requestTimeoutMs 6 s → `-N 6`: ipmitool waits 6 s for each answer before it resends, so a
 *   BMC answering within 5 s never sees a request twice (measured through the slow proxy: the
 *   same 11 requests as without delay). Ironic passes its `min_command_interval` (5 s) as `-N`
 *   when it lets ipmitool retry; ipmitool resends at exactly -N, which leaves a 5 s BMC no
 *   margin, hence 6.
 * - commandBudgetMs 90 s: a run is 11 requests, so a BMC taking 3–5 s per request needs
 *   33–55 s (measured: 43–45 s per run with every request held 3–5 s), and one answering just
 *   inside the 6 s timeout 66 s. Ironic gives an IPMI operation 60 s (`command_retry_timeout`),
 *   which does not hold 11 slow requests: 11 × 6 s plus room for one resent status request.
 * - settleMs 15 s: after the budget, the BMC holds at most the request in flight (ipmitool waits
 *   for each answer and never resends a power command); it answers within a request timeout
 *   or two.
 * - stepTimeoutMs 240 s: a step is its command and at least one verifying query, each up to
 *   ~55 s on a 5 s BMC (90 s at the budget), plus the gaps between them.
 * - minIntervalMs 1 s: each run opens and closes its own session and the per-BMC limit already
 *   serialises them. Ironic waits 5 s (`min_command_interval`) because some BMCs mishandle
 *   back-to-back sessions; a node with such a BMC sets timing.minIntervalMs to 5000.
 */
export const IPMI_TIMING: Timing = {
  requestTimeoutMs: 6_000,
  commandBudgetMs: 90_000,
  settleMs: 15_000,
  stepTimeoutMs: 240_000,
  attempts: DEFAULT_ATTEMPTS,
  minIntervalMs: 1_000,
};

const capabilitiesOf = (params: IpmiParams): DriverCapabilities => ({
  softOff: true,
  queryable: true,
  ...resolveLimits(IPMI_TIMING, params),
});

export type ChassisVerb = 'on' | 'off' | 'soft' | 'status';

export interface IpmitoolTiming {
  /** `-N`: seconds ipmitool waits for an answer before it resends a request. */
  readonly packetTimeoutSec: number;
  /** `-R`: tries per request, the first send included (ipmitool loops `while (try < R)`). */
  readonly tries: number;
  /** The run's deadline: then its process group is killed. */
  readonly commandTimeoutMs: number;
}

const MAX_STATUS_TRIES = 2;

/**
 * ipmitool's timing for one run, from the node's resolved timing.
 *
 * A power command gets one try per request: a resent chassis control packet carries a new
 * RMCP+ sequence number, so a BMC that was merely slower than `-N` executes it twice. If a
 * request goes unanswered the run fails, and the host verifies with a query after the
 * command's latest end before it sends anything again (invariant 6: never a blind repeat).
 *
 * A status query may resend a lost request, as often as the run still fits the budget when
 * every other request takes a whole request timeout: ipmitool waits -N, then -N+1, -N+2 …
 * seconds (it adds a second per resend).
 */
export function ipmitoolTiming(timing: Timing, verb: ChassisVerb): IpmitoolTiming {
  const packetTimeoutSec = Math.max(1, Math.ceil(timing.requestTimeoutMs / 1000));
  let tries = 1;
  if (verb === 'status') {
    const others = (IPMITOOL_PACKETS_PER_RUN - 1) * packetTimeoutSec;
    const worst = (t: number): number => others + t * packetTimeoutSec + (t * (t - 1)) / 2;
    while (tries < MAX_STATUS_TRIES && worst(tries + 1) * 1000 <= timing.commandBudgetMs) tries++;
  }
  return { packetTimeoutSec, tries, commandTimeoutMs: timing.commandBudgetMs };
}

/** The argv (after the program name) of one run. The password is never in it. */
export function ipmitoolArgs(params: IpmiParams, verb: ChassisVerb): string[] {
  const { packetTimeoutSec, tries } = ipmitoolTiming(resolveTiming(IPMI_TIMING, params.timing), verb);
  return [
    '-I', 'lanplus',
    '-C', String(params.cipher ?? 3),
    '-H', params.host,
    '-p', String(params.port ?? 623),
    '-U', params.user,
    '-E',
    '-N', String(packetTimeoutSec),
    '-R', String(tries),
    ...(params.privilege === undefined ? [] : ['-L', params.privilege]),
    '-v',
    'chassis', 'power', verb,
  ];
}

interface FailureContext {
  readonly params: IpmiParams;
  /** ipmitool's last meaningful lines. */
  readonly summary: string;
}

type Describe = (ctx: FailureContext, match: RegExpExecArray) => string;

// A wrong password and an unknown user read alike on purpose: which of the two was wrong is
// not the caller's to learn (and BMCs differ in which one they notice).
const CREDENTIALS =
  /RAKP \d HMAC is invalid|RAKP \d message indicates an error : (?:unauthorized name|invalid name length|invalid integrity check value|unauthorized GUID)|RAKP \d message has invalid integrity check value|Unable to read password/i;
const PRIVILEGE = /Insufficient privilege level|invalid role|unauthorized role|Requested privilege level exceeds limit/i;
// The BMC does not do the suite: it says so in its Open Session answer, or agrees on other
// algorithms than the ones asked for ("... is not what we requested").
const CIPHER_REFUSED =
  /Error in open session response message : (?:invalid (?:authentication|integrity|confidentiality) algorithm|no matching (?:authentication algorithm|integrity payload|cipher suite))|(?:Authentication|Integrity|Encryption) algorithm 0x[0-9a-f]+ is\s+not what we requested(?: 0x[0-9a-f]+)?|Unsupported cipher suite ID : \d+/i;
const BUSY = /insufficient resources for (?:session|role)|Node busy|BMC initialization in progress/i;

const summaryOf: Describe = ({ summary }) => summary;

/** Ordered: the first rule whose pattern matches ipmitool's output decides. */
const FAILURE_RULES: ReadonlyArray<readonly [RegExp, DriverErrorKind, Describe]> = [
  [
    CIPHER_REFUSED,
    'config',
    ({ params }, m) =>
      `the BMC refused cipher suite ${params.cipher ?? 3} ("${m[0].replace(/\s+/g, ' ')}"); set params.cipher to a suite the BMC offers (3 or 17 on most BMCs; \`ipmitool -I lanplus -C <a suite that works> ... channel getciphers ipmi\` lists them)`,
  ],
  [
    CREDENTIALS,
    'auth',
    () => "the BMC refused the user name or password (IPMI RAKP authentication failed); check both in the node's params",
  ],
  [
    PRIVILEGE,
    'auth',
    ({ params }) =>
      `the BMC refused privilege level ${params.privilege ?? 'ADMINISTRATOR'} for user "${params.user}"; set params.privilege to one the user has (power control needs OPERATOR)`,
  ],
  [BUSY, 'busy', ({ summary }) => `the BMC is busy: ${summary}`],
  [/Invalid command|command disabled|Cannot execute command/i, 'unsupported', summaryOf],
  [/Address lookup for .* failed|Could not open socket|Connection refused|Network is unreachable|No route to host/i, 'unreachable', summaryOf],
  [/Get Auth Capabilities error|No response|Unable to (?:set|get) Chassis|Timeout/i, 'timeout', summaryOf],
  // Any other completion code: the BMC answered but failed the command; worth another try.
  [/failed: /i, 'busy', summaryOf],
];

export function classifyIpmiFailure(output: string): DriverErrorKind {
  for (const [pattern, kind] of FAILURE_RULES) if (pattern.test(output)) return kind;
  return 'protocol';
}

function describeFailure(output: string, ctx: FailureContext): { kind: DriverErrorKind; message: string } {
  for (const [pattern, kind, describe] of FAILURE_RULES) {
    const match = pattern.exec(output);
    if (match) return { kind, message: describe(ctx, match) };
  }
  return { kind: 'protocol', message: ctx.summary };
}

// ipmitool opens the session before it sends the chassis command: when that failed, the
// command never left this host, whatever else went wrong.
const NO_SESSION = /Unable to establish IPMI v2 \/ RMCP\+ session/;

// ipmitool -v probes the BMC (HPM, VSO) before the real command; those failures are normal.
const PROBE_CHATTER = /^Loading IANA|^Get HPM\.x|^Running Get VSO|^Invalid completion code received|^Discovered IPMB|^Error response 0x[0-9a-f]+ from Get PICMG/i;

/** ipmitool's own lines, without the verbose probe chatter. */
function meaningfulLines(result: RunResult): string[] {
  return `${result.stderr}\n${result.stdout}`
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !PROBE_CHATTER.test(l));
}

function checkParams(params: unknown): IpmiParams {
  if (Value.Check(IpmiParamsSchema, params)) return params;
  const first = Value.Errors(IpmiParamsSchema, params).First();
  const where = first?.path === '' || first === undefined ? 'params' : first.path;
  const why =
    first?.path === '/cipher'
      ? `${JSON.stringify(first.value)} is not a cipher suite ipmitool supports (use 0-3, 6-8 or 15-17; 3 and 17 are the common ones)`
      : (first?.message ?? 'invalid');
  throw new DriverError('config', `invalid ipmi params at ${where}: ${why}`);
}

export function createIpmiDriver(deps: IpmiDriverDeps = {}): PowerDriver<IpmiParams> {
  const ipmitool = deps.ipmitoolPath ?? 'ipmitool';

  async function chassisPower(target: DriverTarget<IpmiParams>, verb: ChassisVerb, signal: AbortSignal): Promise<string> {
    const p = checkParams(target.params);
    const { commandTimeoutMs } = ipmitoolTiming(resolveTiming(IPMI_TIMING, p.timing), verb);
    const result = await runCommand({
      command: ipmitool,
      args: ipmitoolArgs(p, verb),
      env: { ...deps.childEnv, IPMI_PASSWORD: p.password },
      signal,
      timeoutMs: commandTimeoutMs,
      onSpawn: deps.onSpawn,
      ...(target.notAfter !== undefined ? { notAfter: target.notAfter } : {}),
    });
    if (result.exitCode !== 0) {
      const lines = meaningfulLines(result);
      const output = lines.join('\n');
      const summary = lines.slice(-3).join(' | ') || `exit code ${String(result.exitCode)}`;
      const { kind, message } = describeFailure(output, { params: p, summary });
      // Without a session nothing reached the BMC that could still be running.
      const mayStillRun = NO_SESSION.test(output) ? false : undefined;
      throw new DriverError(kind, `ipmitool chassis power ${verb} on ${target.bmc}: ${message}`, { mayStillRun });
    }
    return result.stdout;
  }

  async function control(target: DriverTarget<IpmiParams>, verb: ChassisVerb, signal: AbortSignal): Promise<StepAck> {
    const out = await chassisPower(target, verb, signal);
    if (!/Chassis Power Control:/.test(out)) {
      throw new DriverError('protocol', `ipmitool chassis power ${verb} on ${target.bmc}: unexpected reply "${out.trim().slice(0, 200)}"`);
    }
    return {};
  }

  return {
    name: 'ipmi',
    paramsSchema: IpmiParamsSchema,
    secretParams: ['password'],
    capabilities: capabilitiesOf,
    defaultBmc: (params) => `ipmi:${params.host}:${params.port ?? 623}`,
    powerOn: (target, signal) => control(target, 'on', signal),
    powerOff: (target, signal) => control(target, 'off', signal),
    softOff: (target, signal) => control(target, 'soft', signal),
    async query(target, signal): Promise<Reading> {
      const out = await chassisPower(target, 'status', signal);
      const match = /Chassis Power is (on|off)\b/.exec(out);
      if (match?.[1] === 'on' || match?.[1] === 'off') return match[1];
      throw new DriverError('protocol', `ipmitool chassis power status on ${target.bmc}: unexpected reply "${out.trim().slice(0, 200)}"`);
    },
  };
}
