/**
 * The one interface every power driver implements. A driver is stateless per call: the host
 * hands it the node's target (node id, BMC key, decrypted params) with every command, so one
 * driver object serves the whole fleet. `cycle` is composed by the chart from off + on.
 */
import type { TObject } from '@sinclair/typebox';
import type { RetryPolicy } from '../machines/retry.ts';
import type { Timing } from './timing.ts';
import type { Reading } from '../machines/types.ts';

export const DRIVER_NAMES = ['sim', 'ipmi', 'redfish', 'virsh', 'webhook', 'manual'] as const;
export type DriverName = (typeof DRIVER_NAMES)[number];

/** What a BMC can tell us of a node's power: the chart's own word list. */
export type { Reading } from '../machines/types.ts';

export interface DriverCapabilities {
  /** Has a graceful (ACPI) soft off. Without it, soft_off is sent as a hard off. */
  readonly softOff: boolean;
  /** Can read the power state. `manual` cannot: a person confirms instead. */
  readonly queryable: boolean;
  /** The driver's timing defaults with the node's `timing` overrides on top (see timing.ts). */
  readonly timing: Timing;
  /**
   * The node's retry policy: attempts from `timing`, delays from the driver's defaults with the
   * node's `retry` overrides on top (src/machines/retry.ts; built by `resolveLimits` in timing.ts).
   */
  readonly retry: RetryPolicy;
}

export interface DriverTarget<P = Record<string, unknown>> {
  readonly nodeId: string;
  /** Key of the BMC the node sits behind; nodes sharing it share its limits. */
  readonly bmc: string;
  readonly params: P;
  /**
   * The command must not reach the BMC after this instant (epoch ms): its committed latest end
   * counts from it. CLI drivers hand it to the spawn helper, the last point before the BMC.
   */
  readonly notAfter?: number;
}

/** A step's acknowledgement. `observed` only when the reply carries the resulting state. */
export interface StepAck {
  readonly observed?: Reading;
}

export type DriverErrorKind =
  | 'auth' // wrong credentials: not retried
  | 'config' // bad params, unknown system/domain: not retried
  | 'unsupported' // the BMC cannot do this: not retried
  | 'timeout' // no answer in time: retried
  | 'busy' // BMC said busy / 409 / 503: retried
  | 'unreachable' // connection refused / DNS / route: retried
  | 'protocol' // an answer we could not understand: retried
  | 'aborted' // the host aborted the call (deadline, command budget or shutdown)
  | 'not_sent'; // refused before it reached the BMC (its start window had passed): retried

const RETRYABLE: Record<DriverErrorKind, boolean> = {
  auth: false,
  config: false,
  unsupported: false,
  timeout: true,
  busy: true,
  unreachable: true,
  protocol: true,
  aborted: true,
  not_sent: true,
};

/**
 * Kinds after which the BMC may still be carrying the command out: the client gave up, not the
 * BMC. The host waits out such a command's latest end before anything else goes to the node.
 */
const MAY_STILL_RUN: Record<DriverErrorKind, boolean> = {
  auth: false,
  config: false,
  unsupported: false,
  timeout: true,
  busy: false,
  unreachable: false,
  protocol: false,
  aborted: true,
  not_sent: false,
};

export class DriverError extends Error {
  readonly retryable: boolean;
  /** The request may have reached the BMC, which may still be executing it (see MAY_STILL_RUN). */
  readonly mayStillRun: boolean;
  constructor(
    readonly kind: DriverErrorKind,
    message: string,
    options?: { cause?: unknown; mayStillRun?: boolean; retryable?: boolean },
  ) {
    super(message, options);
    this.name = 'DriverError';
    this.retryable = options?.retryable ?? RETRYABLE[kind];
    this.mayStillRun = options?.mayStillRun ?? MAY_STILL_RUN[kind];
  }
}

export interface PowerDriver<P = Record<string, unknown>> {
  readonly name: DriverName;
  /** TypeBox schema of the node params this driver takes; validated on node create/patch. */
  readonly paramsSchema: TObject;
  /** Param keys that are secrets: encrypted at rest, never returned, logged or streamed. */
  readonly secretParams: readonly string[];
  /**
   * Checks a schema-valid params object for what a schema cannot say (URLs parse, regexes
   * compile, options that go together). Throws DriverError 'config' with a message naming the
   * param. Called on node create/patch after schema validation.
   */
  validateParams?(params: P): void;
  capabilities(params: P): DriverCapabilities;
  /**
   * The BMC key a node uses when none is given (e.g. host:port, libvirt URI). The host passes
   * `nodeId` for drivers whose BMC is per node when the params name none (sim: `sim:<nodeId>`).
   */
  defaultBmc(params: P, nodeId?: string): string;
  powerOn(target: DriverTarget<P>, signal: AbortSignal): Promise<StepAck>;
  powerOff(target: DriverTarget<P>, signal: AbortSignal): Promise<StepAck>;
  softOff(target: DriverTarget<P>, signal: AbortSignal): Promise<StepAck>;
  query(target: DriverTarget<P>, signal: AbortSignal): Promise<Reading>;
}

/** Turns an AbortSignal into a rejection of the given promise-returning work. */
export function abortError(signal: AbortSignal): DriverError {
  const reason: unknown = signal.reason;
  const why = reason instanceof Error ? reason.message : typeof reason === 'string' ? reason : 'aborted';
  return new DriverError('aborted', `command aborted: ${why}`, { cause: reason });
}
