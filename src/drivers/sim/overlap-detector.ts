/**
 * Finds commands that should never have run at the same time (invariants 1 and 9).
 *
 * Exact by event order: two commands overlap when one starts before the other has ended,
 * so the detector only needs the commands in flight right now (per node and per BMC) and,
 * for the minimum interval, each BMC's last start and end. Counters are exact; only the
 * most recent violations are kept as samples, so memory stays bounded however long it runs.
 */
import type { DriverErrorKind } from '../types.ts';
import type { SimCommandKind } from './backend.ts';

export type CommandOutcome = 'running' | 'ok' | DriverErrorKind;

export interface CommandRecord {
  readonly id: number;
  readonly nodeId: string;
  readonly bmc: string;
  readonly kind: SimCommandKind;
  /** performance.now() of this process, in ms. */
  readonly start: number;
  end: number | undefined;
  outcome: CommandOutcome;
}

export interface CommandRef {
  readonly id: number;
  readonly nodeId: string;
  readonly bmc: string;
  readonly kind: SimCommandKind;
  readonly start: number;
}

export type Violation =
  | { readonly type: 'node_overlap'; readonly nodeId: string; readonly running: CommandRef; readonly started: CommandRef }
  | { readonly type: 'bmc_limit'; readonly bmc: string; readonly inFlight: number; readonly limit: number; readonly started: CommandRef }
  | { readonly type: 'min_interval'; readonly bmc: string; readonly gapMs: number; readonly minIntervalMs: number; readonly started: CommandRef };

export interface OverlapReport {
  /** Pairs of commands on one node whose intervals intersect (queries count). */
  readonly nodeOverlaps: number;
  /** Commands that started while their BMC already had `bmcLimit` commands in flight. */
  readonly bmcLimitViolations: number;
  /** Commands that started sooner than `minIntervalMs` after the previous one on their BMC. */
  readonly minIntervalViolations: number;
  readonly total: number;
  /** The most recent violations, oldest first. */
  readonly samples: readonly Violation[];
}

export interface OverlapDetectorOptions {
  /** Commands allowed in flight at once per BMC (invariant 9); default 1. */
  readonly bmcLimit?: number;
  /** Minimum gap between commands to one BMC; 0 (default) checks nothing. */
  readonly minIntervalMs?: number;
  /**
   * What the gap is measured from: the previous command's end (default; like Ironic's
   * min_command_interval) or its start. With 'end', a command that starts while another on
   * its BMC is still running is the concurrency limit's business, not the interval's.
   */
  readonly minIntervalFrom?: 'end' | 'start';
  /** Slack for timer granularity (Node timers can fire up to ~1 ms early); default 1 ms. */
  readonly minIntervalToleranceMs?: number;
  /** How many violation samples to keep; default 1000. */
  readonly keepSamples?: number;
}

interface BmcTrack {
  inFlight: number;
  lastStart: number;
  lastEnd: number;
}

function ref(r: CommandRecord): CommandRef {
  return { id: r.id, nodeId: r.nodeId, bmc: r.bmc, kind: r.kind, start: r.start };
}

export class OverlapDetector {
  readonly bmcLimit: number;
  readonly minIntervalMs: number;
  private readonly minIntervalFrom: 'end' | 'start';
  private readonly toleranceMs: number;
  private readonly keepSamples: number;
  /** Only nodes with a command in flight; entries go away when the node is idle. */
  private readonly running = new Map<string, CommandRecord[]>();
  private readonly bmcs = new Map<string, BmcTrack>();
  private readonly samples: Violation[] = [];
  private nodeOverlaps = 0;
  private bmcLimitViolations = 0;
  private minIntervalViolations = 0;
  private inFlightTotal = 0;

  constructor(options: OverlapDetectorOptions = {}) {
    this.bmcLimit = positiveInt(options.bmcLimit ?? 1, 'bmcLimit');
    this.minIntervalMs = nonNegative(options.minIntervalMs ?? 0, 'minIntervalMs');
    this.minIntervalFrom = options.minIntervalFrom ?? 'end';
    this.toleranceMs = nonNegative(options.minIntervalToleranceMs ?? 1, 'minIntervalToleranceMs');
    this.keepSamples = nonNegative(options.keepSamples ?? 1000, 'keepSamples');
  }

  begin(record: CommandRecord): void {
    this.inFlightTotal++;
    const onNode = this.running.get(record.nodeId);
    if (onNode) {
      for (const other of onNode) {
        this.nodeOverlaps++;
        this.sample({ type: 'node_overlap', nodeId: record.nodeId, running: ref(other), started: ref(record) });
      }
      onNode.push(record);
    } else {
      this.running.set(record.nodeId, [record]);
    }

    let bmc = this.bmcs.get(record.bmc);
    if (!bmc) {
      bmc = { inFlight: 0, lastStart: Number.NaN, lastEnd: Number.NaN };
      this.bmcs.set(record.bmc, bmc);
    }
    if (this.minIntervalMs > 0) this.checkInterval(bmc, record);
    bmc.inFlight++;
    bmc.lastStart = record.start;
    if (bmc.inFlight > this.bmcLimit) {
      this.bmcLimitViolations++;
      this.sample({ type: 'bmc_limit', bmc: record.bmc, inFlight: bmc.inFlight, limit: this.bmcLimit, started: ref(record) });
    }
  }

  end(record: CommandRecord): void {
    const onNode = this.running.get(record.nodeId);
    const at = onNode?.indexOf(record) ?? -1;
    if (!onNode || at < 0) return; // already ended
    this.inFlightTotal--;
    if (onNode.length === 1) this.running.delete(record.nodeId);
    else onNode.splice(at, 1);

    const bmc = this.bmcs.get(record.bmc);
    if (!bmc) return;
    bmc.inFlight--;
    bmc.lastEnd = record.end ?? bmc.lastEnd;
    // Without an interval to check, an idle BMC needs no memory.
    if (bmc.inFlight === 0 && this.minIntervalMs === 0) this.bmcs.delete(record.bmc);
  }

  inFlight(): number {
    return this.inFlightTotal;
  }

  report(): OverlapReport {
    return {
      nodeOverlaps: this.nodeOverlaps,
      bmcLimitViolations: this.bmcLimitViolations,
      minIntervalViolations: this.minIntervalViolations,
      total: this.nodeOverlaps + this.bmcLimitViolations + this.minIntervalViolations,
      samples: [...this.samples],
    };
  }

  private checkInterval(bmc: BmcTrack, record: CommandRecord): void {
    let since: number;
    if (this.minIntervalFrom === 'start') since = bmc.lastStart;
    else if (bmc.inFlight > 0) return;
    else since = bmc.lastEnd;
    if (Number.isNaN(since)) return;
    const gapMs = record.start - since;
    if (gapMs + this.toleranceMs < this.minIntervalMs) {
      this.minIntervalViolations++;
      this.sample({ type: 'min_interval', bmc: record.bmc, gapMs, minIntervalMs: this.minIntervalMs, started: ref(record) });
    }
  }

  private sample(v: Violation): void {
    if (this.keepSamples === 0) return;
    if (this.samples.length >= this.keepSamples) this.samples.shift();
    this.samples.push(v);
  }
}

function positiveInt(x: number, name: string): number {
  if (!Number.isInteger(x) || x < 1) throw new RangeError(`${name} must be a positive integer, got ${x}`);
  return x;
}

function nonNegative(x: number, name: string): number {
  if (!Number.isFinite(x) || x < 0) throw new RangeError(`${name} must be a non-negative number, got ${x}`);
  return x;
}
