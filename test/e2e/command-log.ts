/**
 * Timestamped command records for the end-to-end test, and the two checks made on them:
 * no two commands to one BMC overlap, and consecutive ones keep the minimum gap.
 *
 * `recordingWrapper` writes a shell script that stands in for a CLI (virsh, ipmitool): it
 * appends "<start> <end> <exit code> <args>" per run (wall clock, seconds with ns) and execs
 * nothing else, so the recorded interval covers the real tool's whole run.
 */
import { chmod, readFile, writeFile } from 'node:fs/promises';

export interface Interval {
  readonly startMs: number;
  readonly endMs: number;
  /** What ran, for the failure message. */
  readonly what: string;
}

const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** The drivers give their child no PATH, so the script names every program by its full path. */
export async function recordingWrapper(path: string, realTool: string, logFile: string, delayMs = 0): Promise<void> {
  const delay = delayMs > 0 ? `/bin/sleep ${(delayMs / 1000).toFixed(3)}\n` : '';
  await writeFile(logFile, '');
  await writeFile(
    path,
    `#!/bin/sh
start=$(/bin/date +%s.%N)
${delay}${shq(realTool)} "$@"
rc=$?
echo "$start $(/bin/date +%s.%N) $rc $*" >> ${shq(logFile)}
exit $rc
`,
  );
  await chmod(path, 0o755);
}

export interface ToolRun extends Interval {
  readonly exitCode: number;
  readonly args: readonly string[];
}

export async function readToolRuns(logFile: string): Promise<ToolRun[]> {
  const text = await readFile(logFile, 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line) => {
      const [start = '', end = '', rc = '', ...args] = line.trim().split(/\s+/);
      return { startMs: Number(start) * 1000, endMs: Number(end) * 1000, exitCode: Number(rc), args, what: args.join(' ') };
    });
}

/** The value after `flag` in an argv, e.g. the domain after --domain. */
export function argAfter(args: readonly string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

/**
 * Problems in one BMC's command intervals: overlaps (a command started before an earlier one
 * ended) and gaps below `minGapMs`. `toleranceMs` absorbs clock granularity between processes.
 */
export function scheduleViolations(intervals: readonly Interval[], minGapMs: number, toleranceMs = 2): string[] {
  const sorted = [...intervals].sort((a, b) => a.startMs - b.startMs);
  const problems: string[] = [];
  let previous: Interval | undefined;
  for (const current of sorted) {
    if (current.endMs < current.startMs) problems.push(`"${current.what}" ends before it starts`);
    if (previous !== undefined) {
      const gap = current.startMs - previous.endMs;
      if (gap < -toleranceMs) {
        problems.push(`"${current.what}" started ${(-gap).toFixed(1)} ms before "${previous.what}" ended (overlap)`);
      } else if (gap < minGapMs - toleranceMs) {
        problems.push(`"${current.what}" started ${gap.toFixed(1)} ms after "${previous.what}" ended (minimum gap ${minGapMs} ms)`);
      }
    }
    if (previous === undefined || current.endMs > previous.endMs) previous = current;
  }
  return problems;
}
