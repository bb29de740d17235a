/**
 * What the sim driver needs from a simulated BMC, whether it lives in this process
 * (SimBmcFleet) or in a separate sim process reached over HTTP (SimBmcClient).
 */
import { DriverError, type DriverErrorKind } from '../types.ts';

export const SIM_COMMAND_KINDS = ['on', 'off', 'soft', 'query'] as const;
export type SimCommandKind = (typeof SIM_COMMAND_KINDS)[number];
export type SimPower = 'on' | 'off';

export interface SimCommandRequest {
  readonly nodeId: string;
  readonly bmc: string;
  readonly kind: SimCommandKind;
  /** Raw node params; the BMC side validates them and fills defaults. */
  readonly params: unknown;
}

/** The BMC's answer: the node's power as the BMC saw it when it answered. */
export interface SimReply {
  readonly power: SimPower;
}

export interface SimBmcBackend {
  command(request: SimCommandRequest, signal?: AbortSignal): Promise<SimReply>;
}

export interface SimFault {
  /** The next n commands to this node fail with `failKind` (default busy). */
  readonly failNext?: number;
  readonly failKind?: DriverErrorKind;
  /** Every command hangs until aborted while set. */
  readonly hang?: boolean;
  /** Every command fails as unreachable while set. */
  readonly unreachable?: boolean;
}

const ERROR_KINDS: readonly string[] = [
  'auth', 'config', 'unsupported', 'timeout', 'busy', 'unreachable', 'protocol', 'aborted',
] satisfies readonly DriverErrorKind[];

export function isDriverErrorKind(x: unknown): x is DriverErrorKind {
  return typeof x === 'string' && ERROR_KINDS.includes(x);
}

export function isSimCommandKind(x: unknown): x is SimCommandKind {
  return typeof x === 'string' && (SIM_COMMAND_KINDS as readonly string[]).includes(x);
}

export function isSimPower(x: unknown): x is SimPower {
  return x === 'on' || x === 'off';
}

/** A DriverError as it travels over the sim's HTTP API. */
export interface WireError {
  readonly kind: DriverErrorKind;
  readonly message: string;
}

export function toWireError(err: unknown): WireError {
  if (err instanceof DriverError) return { kind: err.kind, message: err.message };
  return { kind: 'protocol', message: err instanceof Error ? err.message : String(err) };
}

export function fromWireError(wire: unknown): DriverError {
  if (typeof wire === 'object' && wire !== null) {
    const { kind, message } = wire as Record<string, unknown>;
    if (isDriverErrorKind(kind) && typeof message === 'string') return new DriverError(kind, message);
  }
  return new DriverError('protocol', `sim BMC sent an error we could not read: ${JSON.stringify(wire)}`);
}
