/**
 * What a slow IPMI BMC saw, for the slow-BMC tests (test/e2e/slow-ipmi.test.ts and
 * test/crash/slow-ipmi-kill.test.ts): the chassis commands ipmi_sim executed (its chassis_control
 * log) and the ipmitool runs the delaying proxy in front of it passed on (one client port per run).
 */
import type { ChassisLogEntry } from '../peers/ipmi-sim.ts';
import type { ProxyPacket } from '../peers/slow-udp-proxy.ts';

/** "set power 1", "get power", … */
export const commandOf = (e: ChassisLogEntry): string => `${e.op} ${e.args.join(' ')}`.trim();

/** Chassis commands that started before an earlier one had ended. */
export function chassisOverlaps(log: readonly ChassisLogEntry[]): string[] {
  const sorted = [...log].sort((a, b) => a.startMs - b.startMs);
  const found: string[] = [];
  let previous: ChassisLogEntry | undefined;
  for (const cur of sorted) {
    if (previous !== undefined && cur.startMs < previous.endMs) {
      found.push(`"${commandOf(cur)}" started ${(previous.endMs - cur.startMs).toFixed(1)} ms before "${commandOf(previous)}" ended`);
    }
    if (previous === undefined || cur.endMs > previous.endMs) previous = cur;
  }
  return found;
}

/** The power-changing commands ("set power 1", "set power 0", "set shutdown 1"), in order. */
export const powerCommands = (log: readonly ChassisLogEntry[]): string[] => log.filter((e) => e.op === 'set').map(commandOf);

/** One ipmitool run as the proxy saw it: its first request to its last packet either way. */
export interface ProxyRun {
  readonly client: string;
  readonly firstMs: number;
  readonly lastMs: number;
  readonly requests: number;
  readonly inSession: number;
}

export function proxyRuns(packets: readonly ProxyPacket[]): ProxyRun[] {
  const runs = new Map<string, { client: string; firstMs: number; lastMs: number; requests: number; inSession: number }>();
  for (const p of packets) {
    const at = p.forwardedMs ?? p.receivedMs;
    const run = runs.get(p.client) ?? { client: p.client, firstMs: p.receivedMs, lastMs: at, requests: 0, inSession: 0 };
    run.firstMs = Math.min(run.firstMs, p.receivedMs);
    run.lastMs = Math.max(run.lastMs, at);
    if (p.direction === 'request') {
      run.requests++;
      if (p.inSession) run.inSession++;
    }
    runs.set(p.client, run);
  }
  return [...runs.values()].sort((a, b) => a.firstMs - b.firstMs);
}

/** ipmitool runs to one BMC that were in progress at the same time (the host's single flight). */
export function runOverlaps(runs: readonly ProxyRun[]): string[] {
  const found: string[] = [];
  let previous: ProxyRun | undefined;
  for (const run of runs) {
    if (previous !== undefined && run.firstMs < previous.lastMs) {
      found.push(`run ${run.client} began ${(previous.lastMs - run.firstMs).toFixed(0)} ms before run ${previous.client} ended`);
    }
    if (previous === undefined || run.lastMs > previous.lastMs) previous = run;
  }
  return found;
}

/** Count of each chassis command, e.g. {"set power 1": 1, "get power": 2}. */
export function commandCounts(log: readonly ChassisLogEntry[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const e of log) counts[commandOf(e)] = (counts[commandOf(e)] ?? 0) + 1;
  return counts;
}

export const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
