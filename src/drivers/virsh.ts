/**
 * libvirt power driver: drives `virsh -c URI start|destroy|shutdown|domstate --domain NAME`.
 * BMC commands are desired-state commands, so starting a running domain or stopping a stopped
 * one succeeds. The child gets only LC_ALL=C plus `childEnv` (URIs such as qemu:///session or
 * qemu+ssh:// need HOME / XDG_RUNTIME_DIR / SSH_AUTH_SOCK there).
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

export const VirshParamsSchema = Type.Object(
  {
    // Must start with a URI scheme, so it can never be read as a virsh option.
    uri: Type.String({ minLength: 3, maxLength: 1024, pattern: '^[A-Za-z][A-Za-z0-9+.-]*:[^\\x00-\\x1f]*$' }),
    domain: Type.String({ minLength: 1, maxLength: 255, pattern: '^[^-\\x00-\\x1f/][^\\x00-\\x1f/]*$' }),
    ...LIMIT_PARAMS,
  },
  { additionalProperties: false },
);
export type VirshParams = Static<typeof VirshParamsSchema>;

export interface VirshDriverDeps extends CommandDriverDeps {
  /** Path of virsh; default `virsh` looked up on the child's PATH (or the system default). */
  readonly virshPath?: string;
  /** Hard deadline for one virsh run, on top of the caller's AbortSignal. */
  readonly commandTimeoutMs?: number;
}

export const VIRSH_TIMING: Timing = {
  requestTimeoutMs: 30_000,
  commandBudgetMs: 30_000,
  // libvirtd finishes a job whose client went away; a start or destroy takes seconds.
  settleMs: 10_000,
  // A guest's ACPI shutdown can take a while; the step includes waiting for "shut off".
  stepTimeoutMs: 60_000,
  attempts: DEFAULT_ATTEMPTS,
  // libvirt serialises jobs on a domain itself.
  minIntervalMs: 0,
};

const capabilitiesOf = (params: VirshParams): DriverCapabilities => ({
  softOff: true,
  queryable: true,
  ...resolveLimits(VIRSH_TIMING, params),
});

type VirshVerb = 'start' | 'destroy' | 'shutdown' | 'domstate';

const DOMSTATE: Readonly<Record<string, Reading>> = {
  running: 'on',
  idle: 'on',
  blocked: 'on',
  paused: 'on',
  'in shutdown': 'on',
  pmsuspended: 'on',
  'shut off': 'off',
  crashed: 'off',
};

export function readDomstate(text: string): Reading {
  const first = text.trim().split('\n')[0]?.trim().toLowerCase() ?? '';
  return DOMSTATE[first] ?? 'unknown';
}

/** Errors that mean the domain already is where the command wants it. */
const ALREADY_THERE: Partial<Record<VirshVerb, RegExp>> = {
  start: /Domain is already active|domain is already running/i,
  destroy: /\bnot running\b/i,
  shutdown: /\bnot running\b/i,
};

/** Ordered: the first rule whose pattern matches virsh's stderr decides the kind. */
const FAILURE_RULES: ReadonlyArray<readonly [RegExp, DriverErrorKind]> = [
  [/failed to get domain|Domain not found|no domain with matching/i, 'config'],
  [/authentication (?:failed|unavailable)|Permission denied|access denied|not authorized/i, 'auth'],
  [/Unable to parse URI|no connection driver available|invalid argument|unsupported configuration|Invalid URI|XML error/i, 'config'],
  [/not supported|unsupported/i, 'unsupported'],
  [/Failed to connect socket|Connection refused|unable to connect to server|No route to host|Network is unreachable|Cannot recv data|End of file while reading|Name or service not known|failed to connect to the hypervisor/i, 'unreachable'],
  [/Timed out|cannot acquire state change lock/i, 'busy'],
  [/Requested operation is not valid/i, 'busy'],
];

export function classifyVirshFailure(stderr: string): DriverErrorKind {
  for (const [pattern, kind] of FAILURE_RULES) if (pattern.test(stderr)) return kind;
  return 'protocol';
}

function errorText(result: RunResult): string {
  const lines = result.stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return lines.join(' | ') || `exit code ${String(result.exitCode)}`;
}

function checkParams(params: unknown): VirshParams {
  if (Value.Check(VirshParamsSchema, params)) return params;
  const first = Value.Errors(VirshParamsSchema, params).First();
  const where = first === undefined || first.path === '' ? 'params' : first.path;
  throw new DriverError('config', `invalid virsh params at ${where}: ${first?.message ?? 'invalid'}`);
}

export function createVirshDriver(deps: VirshDriverDeps = {}): PowerDriver<VirshParams> {
  const virsh = deps.virshPath ?? 'virsh';

  async function runVirsh(target: DriverTarget<VirshParams>, verb: VirshVerb, signal: AbortSignal): Promise<RunResult> {
    const p = checkParams(target.params);
    return runCommand({
      command: virsh,
      args: ['-q', '-c', p.uri, verb, '--domain', p.domain],
      env: { ...deps.childEnv },
      signal,
      timeoutMs: deps.commandTimeoutMs ?? resolveTiming(VIRSH_TIMING, p.timing).commandBudgetMs,
      onSpawn: deps.onSpawn,
      ...(target.notAfter !== undefined ? { notAfter: target.notAfter } : {}),
    });
  }

  function fail(target: DriverTarget<VirshParams>, verb: VirshVerb, result: RunResult): DriverError {
    const text = errorText(result);
    return new DriverError(classifyVirshFailure(text), `virsh ${verb} ${target.params.domain} on ${target.bmc}: ${text}`);
  }

  async function control(target: DriverTarget<VirshParams>, verb: VirshVerb, signal: AbortSignal): Promise<StepAck> {
    const result = await runVirsh(target, verb, signal);
    if (result.exitCode === 0) return {};
    if (ALREADY_THERE[verb]?.test(result.stderr)) return {};
    throw fail(target, verb, result);
  }

  return {
    name: 'virsh',
    paramsSchema: VirshParamsSchema,
    secretParams: [],
    capabilities: capabilitiesOf,
    defaultBmc: (params) => `virsh:${params.uri}`,
    powerOn: (target, signal) => control(target, 'start', signal),
    powerOff: (target, signal) => control(target, 'destroy', signal),
    softOff: (target, signal) => control(target, 'shutdown', signal),
    async query(target, signal): Promise<Reading> {
      const result = await runVirsh(target, 'domstate', signal);
      if (result.exitCode !== 0) throw fail(target, 'domstate', result);
      return readDomstate(result.stdout);
    },
  };
}
