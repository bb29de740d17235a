/**
 * CPU spent, to say what bounds a figure: the whole process (process.cpuUsage) and, on Linux, the
 * calling thread alone (/proc/thread-self/schedstat, in ns): its time on a core, and its time
 * ready to run but waiting for one. Node runs the host's and the server's JavaScript on the main
 * thread, so that thread is the one a single core bounds; its waiting says the cores were busy
 * with something else (PostgreSQL, GC threads, the load generator).
 */
import { readFileSync } from 'node:fs';

export interface CpuMark {
  readonly at: number;
  readonly process: NodeJS.CpuUsage;
  readonly thread: ThreadTimes | null;
}

interface ThreadTimes {
  readonly runNs: number;
  readonly waitNs: number;
}

export interface CpuSpent {
  /** Microseconds of CPU of the whole process, all threads. */
  readonly processUs: number;
  /** Microseconds the calling thread ran, and waited ready for a core; null where the kernel does not say. */
  readonly threadUs: number | null;
  readonly threadWaitUs: number | null;
  /** Shares of the wall time since the mark that the calling thread ran, and waited for a core. */
  readonly threadRan: number | null;
  readonly threadWaited: number | null;
}

function threadTimes(): ThreadTimes | null {
  try {
    const [run, wait] = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ').map(Number);
    return Number.isFinite(run) && Number.isFinite(wait) ? { runNs: run!, waitNs: wait! } : null;
  } catch {
    return null;
  }
}

export function cpuMark(): CpuMark {
  return { at: performance.now(), process: process.cpuUsage(), thread: threadTimes() };
}

export function cpuSince(mark: CpuMark): CpuSpent {
  const used = process.cpuUsage(mark.process);
  const now = threadTimes();
  const from = mark.thread;
  const wallUs = Math.max(1, (performance.now() - mark.at) * 1000);
  const threadUs = now && from ? (now.runNs - from.runNs) / 1000 : null;
  const threadWaitUs = now && from ? (now.waitNs - from.waitNs) / 1000 : null;
  return {
    processUs: used.user + used.system,
    threadUs,
    threadWaitUs,
    threadRan: threadUs === null ? null : threadUs / wallUs,
    threadWaited: threadWaitUs === null ? null : threadWaitUs / wallUs,
  };
}
