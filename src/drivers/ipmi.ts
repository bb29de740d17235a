/**
 * IPMI 2.0 power driver: drives `ipmitool -I lanplus`. The password reaches ipmitool only
 * through the child's own environment (`-E` reads IPMI_PASSWORD), never its argv, so it does
 * not show in `ps`. `-v` is passed because without it a wrong password and a dead BMC print
 * the same line; the verbose lines tell them apart.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { runCommand, type RunResult, type SpawnedChild } from './child-process.ts';
import { resolveTiming, TimingParamsSchema, type Timing } from './timing.ts';
import {
  DriverError,
  type DriverCapabilities,
  type DriverErrorKind,
  type DriverTarget,
  type PowerDriver,
  type PowerReading,
  type StepAck,
} from './types.ts';

export const IPMI_PRIVILEGES = ['CALLBACK', 'USER', 'OPERATOR', 'ADMINISTRATOR'] as const;

export const IpmiParamsSchema = Type.Object(
  {
    // Host names and IP literals only; a leading '-' could never be a host.
    host: Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9_.:%\\[\\]][A-Za-z0-9_.:%\\[\\]-]*$' }),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, default: 623 })),
    user: Type.String({ maxLength: 16 }),
    // IPMI 2.0 caps passwords at 20 bytes.
    password: Type.String({ maxLength: 20 }),
    cipher: Type.Optional(Type.Integer({ minimum: 0, maximum: 17, default: 3 })),
    privilege: Type.Optional(Type.Union(IPMI_PRIVILEGES.map((p) => Type.Literal(p)))),
    timing: Type.Optional(TimingParamsSchema),
  },
  { additionalProperties: false },
);
export type IpmiParams = Static<typeof IpmiParamsSchema>;

export interface IpmiDriverDeps {
  /** Path of ipmitool; default `ipmitool` looked up on the child's PATH (or the system default). */
  readonly ipmitoolPath?: string;
  /** Extra environment for the child, e.g. PATH. Never the parent's whole environment. */
  readonly childEnv?: Readonly<Record<string, string>>;
  /** ipmitool `-N`: seconds per lanplus packet. */
  readonly packetTimeoutSec?: number;
  /** ipmitool `-R`: retries per packet. With -N 1 -R 1 a dead BMC fails in about 2 s. */
  readonly packetRetries?: number;
  /** Hard deadline for one ipmitool run, on top of the caller's AbortSignal. */
  readonly commandTimeoutMs?: number;
  readonly onSpawn?: (child: SpawnedChild) => void;
}

/**
 * Sized for BMCs that take up to ~5 s to answer each packet (iDRAC/iLO class under load).
 * Ironic gives an IPMI operation 60 s (`command_retry_timeout`) and retransmits no sooner than
 * its 5 s `min_command_interval`; the same here: a packet is resent only after 6 s, so a 5 s
 * BMC never receives a command twice, and one ipmitool run may take 60 s.
 */
export const IPMI_TIMING: Timing = {
  requestTimeoutMs: 6_000,
  commandBudgetMs: 60_000,
  // A packet still queued at the BMC when ipmitool gives up is answered within a request timeout or two.
  settleMs: 15_000,
  stepTimeoutMs: 120_000,
  attempts: 3,
  // Many BMCs mishandle back-to-back sessions; leave them a breath between commands.
  minIntervalMs: 1_000,
};

const capabilitiesOf = (params: IpmiParams): DriverCapabilities => ({
  softOff: true,
  queryable: true,
  timing: resolveTiming(IPMI_TIMING, params.timing),
  reportsStateOnAck: false,
});

type ChassisVerb = 'on' | 'off' | 'soft' | 'status';

/** Ordered: the first rule whose pattern matches ipmitool's output decides the kind. */
const FAILURE_RULES: ReadonlyArray<readonly [RegExp, DriverErrorKind]> = [
  [/RAKP \d HMAC is invalid|unauthorized name|RAKP \d message indicates an error|Insufficient privilege level|invalid role|Unable to read password/i, 'auth'],
  [/Unsupported cipher suite|invalid authentication algorithm|invalid integrity algorithm|invalid confidentiality algorithm|no matching cipher/i, 'config'],
  [/Invalid command|command disabled|Cannot execute command/i, 'unsupported'],
  [/Address lookup for .* failed|Could not open socket|Connection refused|Network is unreachable|No route to host/i, 'unreachable'],
  [/Get Auth Capabilities error|No response|Unable to (?:set|get) Chassis|Timeout/i, 'timeout'],
  // Any other completion code: the BMC answered but failed the command; worth another try.
  [/failed: /i, 'busy'],
];

export function classifyIpmiFailure(output: string): DriverErrorKind {
  for (const [pattern, kind] of FAILURE_RULES) if (pattern.test(output)) return kind;
  return 'protocol';
}

// ipmitool -v probes the BMC (HPM, VSO) before the real command; those failures are normal.
const PROBE_CHATTER = /^Loading IANA|^Get HPM\.x|^Running Get VSO|^Invalid completion code received|^Discovered IPMB/;

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
  throw new DriverError('config', `invalid ipmi params at ${where}: ${first?.message ?? 'invalid'}`);
}

export function createIpmiDriver(deps: IpmiDriverDeps = {}): PowerDriver<IpmiParams> {
  const ipmitool = deps.ipmitoolPath ?? 'ipmitool';
  const packetTimeoutSec = deps.packetTimeoutSec ?? 1;
  const packetRetries = deps.packetRetries ?? 1;
  const commandTimeoutMs = deps.commandTimeoutMs ?? 15_000;

  async function chassisPower(target: DriverTarget<IpmiParams>, verb: ChassisVerb, signal: AbortSignal): Promise<string> {
    const p = checkParams(target.params);
    const args = [
      '-I', 'lanplus',
      '-C', String(p.cipher ?? 3),
      '-H', p.host,
      '-p', String(p.port ?? 623),
      '-U', p.user,
      '-E',
      '-N', String(packetTimeoutSec),
      '-R', String(packetRetries),
      ...(p.privilege === undefined ? [] : ['-L', p.privilege]),
      '-v',
      'chassis', 'power', verb,
    ];
    const result = await runCommand({
      command: ipmitool,
      args,
      env: { ...deps.childEnv, IPMI_PASSWORD: p.password },
      signal,
      timeoutMs: commandTimeoutMs,
      onSpawn: deps.onSpawn,
    });
    if (result.exitCode !== 0) {
      const lines = meaningfulLines(result);
      const summary = lines.slice(-3).join(' | ') || `exit code ${String(result.exitCode)}`;
      throw new DriverError(classifyIpmiFailure(lines.join('\n')), `ipmitool chassis power ${verb} on ${target.bmc}: ${summary}`);
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
    async query(target, signal): Promise<PowerReading> {
      const out = await chassisPower(target, 'status', signal);
      const match = /Chassis Power is (on|off)\b/.exec(out);
      if (match?.[1] === 'on' || match?.[1] === 'off') return match[1];
      throw new DriverError('protocol', `ipmitool chassis power status on ${target.bmc}: unexpected reply "${out.trim().slice(0, 200)}"`);
    },
  };
}
